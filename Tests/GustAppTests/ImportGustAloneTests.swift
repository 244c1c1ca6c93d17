import Gust
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An application written with `import Gust` alone: every type it names comes from there. If
/// this file compiles, the public surface is enough; the test then serves one request.
@Suite struct ImportGustAloneTests {
    static func app() -> Router {
        let router = Router()
        router.on(HTTPMethod.get, "/hello/:name") { req, res in
            res.header("X-Version", req.version == HTTPVersion.http1_1 ? "1.1" : "1.0")
            res.send(HTTPStatus.ok, contentType: ContentType.plainTextUTF8, "hello \(req.parameter("name") ?? "?")")
        }
        router.post("/upload", options: RouteOptions(maxBodyBytes: 1 << 20, body: .stream)) { _, res in
            var total = 0
            res.streamBody { part, res, _ in
                switch part {
                case .data(let chunk): total += chunk.count
                case .end: res.send(.ok, "\(total)")
                case .aborted(let why): _ = why.description
                }
            }
        }
        router.get("/later") { _, res in
            let deferred: DeferredResponse = res.deferResponse()
            _ = deferred.respond { res in res.send(HTTPStatus(code: 299, reason: "Fine"), contentType: ContentType("text/x-later"), "later") }
        }
        return router
    }

    @Test func anAppNeedsNothingButGust() throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.reactors = 1
        configuration.limits = RequestLimits(maxBodyBytes: 4096)
        let server = Server(configuration: configuration, router: Self.app())
        do {
            try server.start()
        } catch let error as SystemError {
            Issue.record("could not start: \(error.description)")
            return
        }
        defer { server.shutdown() }
        let reply = try exchange(port: server.port!, "GET /hello/gust HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n") && reply.hasSuffix("hello gust") && reply.contains("X-Version: 1.1"))
        let later = try exchange(port: server.port!, "GET /later HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(later.hasPrefix("HTTP/1.1 299 Fine\r\n") && later.contains("Content-Type: text/x-later"))
    }

    struct Failure: Error {}

    /// One request on a fresh connection; the whole reply (the server closes after it).
    func exchange(port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure() }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            reply += chunk[0..<n]
        }
        return String(decoding: reply, as: UTF8.self)
    }
}
