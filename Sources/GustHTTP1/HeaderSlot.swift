/// One field line of a parsed request: where its name and value lie, as offsets from the start
/// of the request. Values have surrounding whitespace removed. 16 bytes.
@_spi(GustInternal) public struct HeaderSlot: Sendable, Equatable {
    public var nameOffset: UInt32
    public var nameLength: UInt32
    public var valueOffset: UInt32
    public var valueLength: UInt32

    @inlinable public init(nameOffset: UInt32, nameLength: UInt32, valueOffset: UInt32, valueLength: UInt32) {
        self.nameOffset = nameOffset
        self.nameLength = nameLength
        self.valueOffset = valueOffset
        self.valueLength = valueLength
    }
}

/// A borrowed view of a request's field lines: the request bytes plus the parser's slots.
/// Valid only while both stay in place (for a handler, during its call).
///
/// Unsafe: holds raw pointers it does not own.
@_spi(GustInternal) public struct HeaderView {
    public let base: UnsafePointer<UInt8>
    public let slots: UnsafePointer<HeaderSlot>
    public let count: Int

    @inlinable public init(base: UnsafePointer<UInt8>, slots: UnsafePointer<HeaderSlot>, count: Int) {
        self.base = base
        self.slots = slots
        self.count = count
    }

    /// The name of field line `i`.
    @inlinable public func name(at i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + Int(slots[i].nameOffset), count: Int(slots[i].nameLength))
    }

    /// The value of field line `i`.
    @inlinable public func value(at i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + Int(slots[i].valueOffset), count: Int(slots[i].valueLength))
    }

    /// Index of the first field line named `name`, compared case-insensitively (ASCII).
    /// Cost: one length compare per line, bytes compared only when lengths match. No allocation.
    @inlinable public func firstIndex(named name: UnsafeBufferPointer<UInt8>, from start: Int = 0) -> Int? {
        var i = start
        while i < count {
            let slot = slots[i]
            if Int(slot.nameLength) == name.count
                && asciiCaseInsensitiveEqual(base + Int(slot.nameOffset), name.baseAddress.unsafelyUnwrapped, name.count)
            {
                return i
            }
            i &+= 1
        }
        return nil
    }
}

/// Compares `n` bytes, folding ASCII letters to lower case.
@_spi(GustInternal) @inlinable public func asciiCaseInsensitiveEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if CharacterClass.lower(a[i]) != CharacterClass.lower(b[i]) { return false }
        i &+= 1
    }
    return true
}
