@_spi(GustInternal) import GustIO
import HTTPTypes

#if canImport(Glibc)
import Glibc
#endif

/// One client connection of the test harness: blocking writes and reads with a timeout, an
/// HTTP/1.1 response reader (Content-Length, chunked, or up to the close). Not thread-safe: one
/// test's, one thread at a time.
public final class TestConnection {
    public private(set) var fd: Int32
    var pending: [UInt8] = []

    /// Something went wrong on the wire (timeout, early close, a malformed response).
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    init(fd: Int32, timeout: Duration) {
        self.fd = fd
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    convenience init(port: Int, timeout: Duration) throws {
        let address = try SocketAddress(host: "127.0.0.1", port: port)
        let fd = try System.socket(domain: address.family)
        do {
            try System.setBlocking(fd, true)
            _ = try address.withSockAddr { (p, n) throws(SystemError) in try System.connect(fd, address: p, length: n) }
        } catch {
            System.close(fd)
            throw error
        }
        self.init(fd: fd, timeout: timeout)
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { System.close(fd) }
        fd = -1
    }

    /// Half-closes: the server sees the end of the request stream, responses still arrive.
    public func shutdownWrite() { System.shutdownWrite(fd) }

    // MARK: Sending

    /// The bytes of one request: request line, `Host`, the fields, `Content-Length` when there
    /// is a body (or the method usually has one), the body.
    static func encode(_ method: HTTPRequest.Method, _ path: String, _ fields: HTTPFields, _ body: [UInt8]) -> [UInt8] {
        var head = "\(method.rawValue) \(path) HTTP/1.1\r\n"
        if fields[HTTPField.Name("Host")!] == nil { head += "Host: test\r\n" }
        for field in fields { head += "\(field.name.rawName): \(field.value)\r\n" }
        if fields[.contentLength] == nil && fields[.transferEncoding] == nil && (!body.isEmpty || [.post, .put, .patch].contains(method)) {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    public func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            sent += n
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends a request and reads its response.
    public func request(
        _ method: HTTPRequest.Method, _ path: String, headerFields: HTTPFields = [:], body: [UInt8] = []
    ) throws -> TestResponse {
        try send(Self.encode(method, path, headerFields, body))
        return try readResponse(head: method == .head)
    }

    // MARK: Receiving

    /// More bytes, or nil at the end of the stream. Throws on a timeout.
    func readMore() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            pending += buffer[0..<n]
            return true
        }
        if n == 0 { return false }
        if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure(description: "no response within the timeout") }
        if errno == ECONNRESET { return false }
        throw Failure(description: "recv failed: errno \(errno)")
    }

    /// The next response (a HEAD request's has no body).
    public func readResponse(head: Bool = false) throws -> TestResponse {
        guard let response = try readResponseIfAny(head: head) else {
            throw Failure(description: "the server closed the connection before a response")
        }
        return response
    }

    /// The next response, or nil when the server closes first.
    public func readResponseIfAny(head: Bool = false) throws -> TestResponse? {
        var end: Int?
        while true {
            end = Self.headEnd(pending)
            if end != nil { break }
            guard try readMore() else {
                if pending.isEmpty { return nil }
                throw Failure(description: "closed inside a response head")
            }
        }
        let headBytes = pending[0..<end!]
        pending.removeFirst(end! + 4)
        var lines = String(decoding: headBytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let code = Int(statusLine[1]), (100...999).contains(code) else {
            throw Failure(description: "bad status line")
        }
        var fields = HTTPFields()
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), let name = HTTPField.Name(String(line[..<colon])) else {
                throw Failure(description: "bad header line: \(line)")
            }
            fields.append(HTTPField(name: name, value: line[line.index(after: colon)...].trimmingCharacters()))
        }
        let status = HTTPResponse.Status(code: code, reasonPhrase: statusLine.count > 2 ? String(statusLine[2]) : "")
        if code < 200 { return try readResponseIfAny(head: head) }  // interim (100 Continue): the final one follows
        var body: [UInt8] = []
        if !(head || code == 204 || code == 304) {
            if fields[.transferEncoding]?.lowercased().contains("chunked") == true {
                body = try readChunked()
            } else if let length = fields[.contentLength].flatMap(Int.init) {
                while pending.count < length {
                    guard try readMore() else { throw Failure(description: "closed inside a body") }
                }
                body = Array(pending[0..<length])
                pending.removeFirst(length)
            } else {
                while try readMore() {}
                body = pending
                pending = []
            }
        }
        return TestResponse(status: status, headerFields: fields, body: body)
    }

    func readChunked() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let line = try readLine()
            guard let size = Int(line.split(separator: ";").first ?? "", radix: 16) else { throw Failure(description: "bad chunk size") }
            if size == 0 {
                while try !readLine().isEmpty {}  // trailers
                return body
            }
            while pending.count < size + 2 {
                guard try readMore() else { throw Failure(description: "closed inside a chunk") }
            }
            body += pending[0..<size]
            pending.removeFirst(size + 2)
        }
    }

    func readLine() throws -> String {
        while true {
            if let i = pending.firstIndex(of: 10), i > 0, pending[i - 1] == 13 {
                let line = String(decoding: pending[0..<(i - 1)], as: UTF8.self)
                pending.removeFirst(i + 1)
                return line
            }
            guard try readMore() else { throw Failure(description: "closed inside a line") }
        }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
