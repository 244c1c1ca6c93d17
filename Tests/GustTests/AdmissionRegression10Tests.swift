@_spi(GustInternal) @testable import Gust
@_spi(GustInternal) import GustIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Regression tests (review round 10) for the process-wide connection limit.
@Suite(.serialized) struct AdmissionRegression10Tests {
    /// `HTTPEngine.mayAccept` at the limit, step by step, as two reactors interleave (found
    /// in review: the first version retried once and then paused unlisted):
    ///
    ///     reactor 0: take() fails (reactor 1 holds the only place)
    ///     reactor 1: its connection closes: release() (nobody listed as waiting: no wake-up)
    ///     reactor 0: wait() sees the freed place, takes itself off the list, returns true
    ///     reactor 1: accepts the next client: take() succeeds
    ///     reactor 0: take() fails again -> it must list itself again before pausing
    ///
    /// `takeOrWait` is now that loop (the live test below caught the race); here, its contract:
    /// whenever it answers "no place", the reactor is listed, and the next release unlists it.
    @Test func aReactorThatLosesTheRetryRaceIsStillWokenByTheNextRelease() {
        let limit = ConnectionLimit(maximum: 1, handles: [])
        #expect(limit.takeOrWait(reactor: 1))  // reactor 1 holds the one place
        #expect(!limit.takeOrWait(reactor: 0))  // reactor 0 pauses...
        #expect(limit.waiting.withLock { $0.contains(0) }, "...listed, so the next release wakes it")
        #expect(!limit.takeOrWait(reactor: 0), "asking again while listed changes nothing")
        #expect(limit.waitingCount.load(ordering: .relaxed) >= 1)
        limit.release()  // reactor 1's connection closes: reactor 0 is woken (unlisted)
        #expect(limit.waiting.withLock { $0.isEmpty })
        #expect(limit.takeOrWait(reactor: 0))
        #expect(limit.open.load(ordering: .relaxed) == 1)
    }

    /// The same race, live: 4 reactors (2 CPUs: preemption widens the window), a limit of 1,
    /// clients connecting and closing as fast as they can. Afterwards every new client must
    /// still be served; a reactor whose wake-up was lost leaves the clients hashed to its
    /// listener in the backlog for ever.
    @Test(.timeLimit(.minutes(2))) func underChurnNoReactorStopsAcceptingForEver() async throws {
        let s = try TestServer(reactors: 4, configure: { $0.maxConnections = 1 })
        let port = s.port
        let stop = Atomic<Bool>(false)
        let done = Atomic<Int>(0)
        for _ in 0..<6 {
            _ = OSThread.spawn(name: "churn") {
                while !stop.load(ordering: .relaxed) {
                    guard let c = try? TestClient(port: port, timeoutSeconds: 1) else { continue }
                    try? c.send(get("/plaintext", "Connection: close\r\n"))
                    _ = try? c.readUntilClosed()
                    c.abort()
                }
                done.add(1, ordering: .relaxed)
            }
        }
        try await Task.sleep(for: .seconds(4))
        stop.store(true, ordering: .relaxed)
        while done.load(ordering: .relaxed) < 6 { try await Task.sleep(for: .milliseconds(50)) }
        _ = await s.waitUntilIdle()
        // Now the server holds nothing: 40 clients one after another (spread over the 4
        // listeners by the kernel) must each be served.
        var unanswered = 0
        for _ in 0..<40 {
            let c = try TestClient(port: port, timeoutSeconds: 2)
            try c.send(get("/plaintext", "Connection: close\r\n"))
            if (try? c.readResponse())?.status != 200 { unanswered += 1 }
            c.abort()
        }
        let stats = await s.server.stats()
        #expect(unanswered == 0, "\(unanswered) of 40 clients never accepted with no connection open (\(stats.connections) open)")
    }

    /// `maxConnections` is documented to bound descriptors ("memory stays bounded by the
    /// backlog; descriptors by the limit"), but a connection handed off by an upgrade gives its
    /// place back (`removeRecord` -> `connectionSlotFreed`) while its descriptor stays open
    /// with the new protocol: with a limit of 2, any number of upgraded connections are held.
    @Test func upgradedConnectionsStillCountAgainstTheLimit() async throws {
        let echo = EchoProtocol()
        let s = try TestServer(routes: { router in
            router.get("/echo") { _, res in res.upgrade(to: "echo", handler: echo) }
        }, configure: { $0.maxConnections = 2 })
        var upgraded: [TestClient] = []
        for _ in 0..<6 {
            let c = try TestClient(port: s.port, timeoutSeconds: 1)
            try c.send(get("/echo", "Upgrade: echo\r\nConnection: upgrade\r\n"))
            if (try? c.readResponse(head: true))?.status == 101 { upgraded.append(c) }
        }
        #expect(echo.taken.load(ordering: .relaxed) <= 2, "\(echo.taken.load(ordering: .relaxed)) descriptors held past maxConnections = 2")
        #expect(upgraded.count <= 2)
    }
}
