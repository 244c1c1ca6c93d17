/// The URL a benchmark sends its requests to: `http://host[:port][/path][?query]`.
///
/// Only plain HTTP/1.1 is spoken; `https` is refused with a clear message rather than silently
/// measured as something else. Pure: parsing only, no name resolution.
public struct TargetURL: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// The request target: path and query, "/" at least.
    public let target: String

    /// What `Host` carries: the host, with the port when it is not 80.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? h : "\(h):\(port)"
    }

    public var description: String { "http://\(hostHeader)\(target)" }

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(Invalid) {
        let lower = text.lowercased()
        guard !lower.hasPrefix("https://") else {
            throw Invalid(description: "https is not supported (gust bench speaks plain HTTP/1.1): \(text)")
        }
        guard lower.hasPrefix("http://") else {
            throw Invalid(description: "not an http:// URL: \(text)")
        }
        let rest = text.dropFirst(7)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[rest.startIndex..<authorityEnd]
        var pathAndQuery = String(rest[authorityEnd...])
        if let hash = pathAndQuery.firstIndex(of: "#") { pathAndQuery = String(pathAndQuery[..<hash]) }
        if pathAndQuery.isEmpty || pathAndQuery.hasPrefix("?") { pathAndQuery = "/" + pathAndQuery }
        guard !authority.contains("@") else { throw Invalid(description: "user info in URLs is not supported: \(text)") }
        guard pathAndQuery.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw Invalid(description: "the path must be percent-encoded ASCII without spaces: \(text)")
        }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw Invalid(description: "unclosed IPv6 bracket: \(text)") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw Invalid(description: "bad authority: \(text)") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw Invalid(description: "no host in \(text)") }
        var port = 80
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw Invalid(description: "bad port '\(portText)' in \(text)")
            }
            port = p
        }
        self.host = String(host)
        self.port = port
        target = pathAndQuery
    }
}
