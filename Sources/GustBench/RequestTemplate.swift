/// The bytes of the benchmark's request, built once: request line, `Host`, the user's headers,
/// `Content-Length` for a body, `Connection: close` without keep-alive, then the body. Sending
/// is a copy of (a prefix of) `batch`, which holds `depth` copies back to back so that a
/// pipelined connection sends several requests with one write.
///
/// Threading: immutable after init; each reactor keeps its own copy of the bytes.
public struct RequestTemplate: Sendable {
    public let method: String
    /// One request.
    public let bytes: [UInt8]
    public var isHead: Bool { method == "HEAD" }

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// - Parameter headers: "Name: value" lines. A `Host` among them replaces the default one;
    ///   `Content-Length`, `Transfer-Encoding` and `Connection` are the tool's and are refused.
    public init(method: String, url: TargetURL, headers: [String], body: [UInt8]?, keepAlive: Bool) throws(Invalid) {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        guard !method.isEmpty, method.utf8.allSatisfy({ tchar.contains($0) }) else {
            throw Invalid(description: "bad method '\(method)'")
        }
        var lines: [String] = []
        var hasHost = false
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else { throw Invalid(description: "a header is 'Name: value', not '\(header)'") }
            let name = header[..<colon]
            let value = header[header.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            guard !name.isEmpty, name.utf8.allSatisfy({ tchar.contains($0) }) else {
                throw Invalid(description: "bad header name in '\(header)'")
            }
            guard value.utf8.allSatisfy({ ($0 >= 0x20 && $0 != 0x7f) || $0 == 0x09 }) else {
                throw Invalid(description: "control characters in header '\(name)'")
            }
            switch name.lowercased() {
            case "host": hasHost = true
            case "content-length", "transfer-encoding", "connection":
                throw Invalid(description: "'\(name)' is set by gust bench itself (use --body, --no-keepalive)")
            default: break
            }
            lines.append("\(name): \(value)")
        }
        var head = "\(method) \(url.target) HTTP/1.1\r\n"
        if !hasHost { head += "Host: \(url.hostHeader)\r\n" }
        for line in lines { head += line + "\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        if !keepAlive { head += "Connection: close\r\n" }
        head += "\r\n"
        self.method = method
        bytes = Array(head.utf8) + (body ?? [])
    }

    /// `depth` copies of the request, back to back.
    public func batch(depth: Int) -> [UInt8] {
        Array([[UInt8]](repeating: bytes, count: depth).joined())
    }
}
