import Gust
import GustTesting
import Testing

/// The test harness an application uses (GustTesting), on an app written with `import Gust`.
@Suite("Test harness")
struct HarnessTests {
    static func router() -> Router {
        let router = Router()
        router.get("/inline/:name") { req, res in res.send("hello \(req.parameter("name") ?? "")") }
        router.get("/async/:name") { req in .text("hello \(req.parameter("name") ?? "")") }
        router.post("/echo") { req in .bytes(req.body) }
        router.get("/chunks") { _, res in
            let stream = res.startStream(.ok, contentType: .plainTextUTF8)
            stream.write("one ")
            stream.write("two")
            stream.finish()
        }
        return router
    }

    @Test("in process and live, both tiers, bodies, HEAD, chunked responses", arguments: [TestApp.Transport.inProcess, .live])
    func requests(_ transport: TestApp.Transport) async throws {
        let app = try TestApp(router: Self.router(), transport: transport)
        #expect(try await app.execute(.get, "/inline/gust").text == "hello gust")
        #expect(try await app.execute(.get, "/async/gust").text == "hello gust")
        #expect(try await app.execute(.post, "/echo", text: "body bytes").text == "body bytes")
        let head = try await app.execute(.head, "/inline/gust")
        #expect(head.status == .ok && head.body.isEmpty && head.headerFields[.contentLength] == "10")
        #expect(try await app.execute(.get, "/chunks").text == "one two")
        #expect(try await app.execute(.get, "/nowhere").status == .notFound)
    }

    @Test("raw bytes: pipelined requests, and malformed input answered and closed")
    func raw() async throws {
        let app = try TestApp(router: Self.router())
        let pipelined = try await app.execute(
            raw: Array("GET /inline/a HTTP/1.1\r\nHost: t\r\n\r\nGET /async/b HTTP/1.1\r\nHost: t\r\n\r\n".utf8), responses: 2)
        #expect(pipelined.map(\.text) == ["hello a", "hello b"])
        let malformed = try await app.execute(raw: Array("GET /inline/a HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n".utf8), responses: 2)
        #expect(malformed.count == 1)
        #expect(malformed.first?.status == .badRequest)
    }

    @Test("the pool's figures are an app's to read")
    func poolStats() async throws {
        let app = try TestApp(router: Self.router())
        _ = try await app.execute(.get, "/async/a")
        let stats: WorkPoolStats = offloadStats()
        #expect(stats.workers >= 1 && stats.submitted >= stats.completed)
    }

    @Test("a keep-alive connection for several requests")
    func connection() throws {
        let app = try TestApp(router: Self.router())
        let connection = try app.connect()
        for name in ["a", "b", "c"] {
            #expect(try connection.request(.get, "/async/\(name)").text == "hello \(name)")
        }
    }
}
