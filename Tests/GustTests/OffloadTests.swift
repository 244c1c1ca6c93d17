@_spi(GustInternal) @testable import Gust
@_spi(GustInternal) import GustCore
import GustDemo
@_spi(GustInternal) import GustIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Offloading blocking work")
struct OffloadTests {
    @Test("/offload/hash computes on the pool; n out of range is 400")
    func hash() throws {
        let server = try TestServer()
        let client = try server.client()
        try client.send(get("/offload/hash?n=1000"))
        #expect(try client.readResponse().text == "1000 rounds: \(String(DemoApp.hashRounds(1000), radix: 16))\n")
        for bad in ["0", "10000001", "-3", "abc", ""] {
            try client.send(get("/offload/hash?n=\(bad)"))
            #expect(try client.readResponse().status == 400, "n=\(bad)")
        }
        try client.send(get("/offload/hash"))
        #expect(try client.readResponse().status == 400)
    }

    @Test("errors thrown on the pool reach the handler; the inline tier's offload answers on the reactor")
    func errorsAndInline() throws {
        let server = try TestServer(routes: { router in
            router.get("/o/throw") { _ in
                _ = try await offload { () throws -> Int in throw HTTPError(.unprocessableContent, "bad input") }
                return "unreachable"
            }
            router.get("/o/inline") { req, res in
                let n = req.queryInt("n") ?? 1
                res.offload { DemoApp.hashRounds(n) } then: { digest, res in res.send(.ok, "\(String(digest, radix: 16))") }
            }
        })
        let client = try server.client()
        try client.send(get("/o/throw"))
        let thrown = try client.readResponse()
        #expect(thrown.status == 422)
        #expect(thrown.text == "bad input\n")
        try client.send(get("/o/inline?n=77") + get("/plaintext"))
        #expect(try client.readResponse().text == String(DemoApp.hashRounds(77), radix: 16))
        #expect(try client.readResponse().text == "Hello, World!")
    }

    @Test("work whose task is cancelled before it starts does not run")
    func cancelledBeforeStart() async throws {
        var configuration = WorkPool.Configuration(minimumWorkers: 1, maximumWorkers: 1)
        configuration.name = "one-worker"
        let pool = WorkPool(configuration: configuration)
        defer { pool.shutdown() }
        let gate = Atomic<Bool>(false)
        let ran = Counter()
        let server = try TestServer(
            routes: { router in
                router.get("/o/block") { _ in
                    try await offload(on: pool) { while !gate.load(ordering: .relaxed) { usleep(1_000) } }
                    return "unblocked"
                }
                router.get("/o/queued") { _ in
                    try await offload(on: pool) { ran.add() }
                    return "ran"
                }
            }, configure: { $0.handlerDeadline = nil })
        let blocker = try server.client()
        try blocker.send(get("/o/block"))
        usleep(50_000)
        let leaving = try server.client()
        try leaving.send(get("/o/queued"))
        usleep(50_000)
        #expect(pool.stats().queued == 1)
        leaving.abort()
        usleep(50_000)
        gate.store(true, ordering: .relaxed)
        #expect(try blocker.readResponse().text == "unblocked")
        #expect(eventually { pool.stats().completed == 2 })
        #expect(ran.count == 0)
    }

    @Test("while pool jobs block, the reactor goes on answering")
    func reactorStaysFree() throws {
        let server = try TestServer(routes: { router in
            router.get("/o/sleep") { _ in
                try await offload { usleep(300_000) }
                return "slept"
            }
        })
        let sleepers = try (0..<4).map { _ in try server.client() }
        for client in sleepers { try client.send(get("/o/sleep")) }
        let client = try server.client()
        let start = System.monotonicNow()
        try client.send(get("/plaintext"))
        #expect(try client.readResponse().text == "Hello, World!")
        let waited = System.monotonicNow().nanoseconds - start.nanoseconds
        for sleeper in sleepers { #expect(try sleeper.readResponse().text == "slept") }
        #expect(waited < 250_000_000, "the inline request waited \(waited / 1_000_000) ms behind blocking work")
    }
}

/// Waits (polling) until `condition` holds or `seconds` pass.
func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let end = System.monotonicNow().nanoseconds + Int64(seconds * 1e9)
    while System.monotonicNow().nanoseconds < end {
        if condition() { return true }
        usleep(1_000)
    }
    return condition()
}
