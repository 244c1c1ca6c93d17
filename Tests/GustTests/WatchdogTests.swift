@testable import Gust
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Blocked-reactor watchdog")
struct WatchdogTests {
    @Test("a handler that blocks its reactor is logged once per stall, naming its route")
    func blocked() async throws {
        let logs = LogRecords()
        let server = try TestServer(
            routes: { router in
                router.get("/i/block") { req, res in
                    usleep(UInt32(req.queryInt("ms") ?? 0) * 1000)
                    res.send("done")
                }
                router.get("/a/block") { _ in
                    try await Task.sleep(for: .milliseconds(1))
                    usleep(400_000)
                    return "done"
                }
            },
            configure: {
                $0.logger = logs.logger
                $0.blockedReactorWarning = .milliseconds(100)
            })
        let client = try server.client()
        try client.send(get("/i/block?ms=400"))
        #expect(try client.readResponse().text == "done")
        try client.send(get("/i/block?ms=1") + get("/plaintext"))
        _ = try client.readResponse()
        _ = try client.readResponse()
        try client.send(get("/a/block"))
        #expect(try client.readResponse().text == "done")
        // (At least: a loaded machine may stall the reactor on its own now and then.)
        let warnings = logs.all.filter { $0.0 == .warning }.map(\.1)
        #expect(warnings.filter { $0.contains("last running GET /i/block") }.count == 1, "\(warnings)")
        #expect(warnings.filter { $0.contains("an async handler's task, resumed") }.count == 1, "\(warnings)")
        #expect(await server.server.stats().reactorStalls >= 2)
    }
}
