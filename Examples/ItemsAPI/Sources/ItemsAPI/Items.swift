import Gust

/// An item of the store.
public struct Item: Codable, Sendable, Equatable {
    public var id: Int
    public var name: String
    public var priceCents: Int
    public var tags: [String]

    public init(id: Int, name: String, priceCents: Int, tags: [String]) {
        self.id = id
        self.name = name
        self.priceCents = priceCents
        self.tags = tags
    }
}

/// What a client sends to create an item.
public struct NewItem: Codable, Sendable {
    public var name: String
    public var priceCents: Int
    public var tags: [String]?

    /// Checks the fields; the message says what is wrong (answered 422).
    func validated() throws -> NewItem {
        var problems: [String] = []
        let trimmed = name.trimmingSpaces()
        if trimmed.isEmpty { problems.append("name must not be empty") }
        if trimmed.count > 100 { problems.append("name must be at most 100 characters") }
        if priceCents < 0 { problems.append("priceCents must not be negative") }
        if (tags ?? []).count > 10 { problems.append("at most 10 tags") }
        guard problems.isEmpty else { throw HTTPError(.unprocessableContent, problems.joined(separator: "; ")) }
        return NewItem(name: trimmed, priceCents: priceCents, tags: tags ?? [])
    }
}

/// The items, shared by every reactor: an actor serializes access (handlers await it; the
/// reactor serves other connections meanwhile).
public actor ItemStore {
    var items: [Int: Item] = [:]
    var nextID = 1

    public init() {}

    public func add(_ new: NewItem) -> Item {
        let item = Item(id: nextID, name: new.name, priceCents: new.priceCents, tags: new.tags ?? [])
        items[item.id] = item
        nextID += 1
        return item
    }

    public func item(_ id: Int) -> Item? { items[id] }

    /// Items in id order, at most `limit`, after id `after`.
    public func list(after: Int, limit: Int) -> [Item] {
        Array(items.values.filter { $0.id > after }.sorted { $0.id < $1.id }.prefix(limit))
    }

    public func remove(_ id: Int) -> Bool { items.removeValue(forKey: id) != nil }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
