@_spi(GustInternal) @testable import Gust
@_spi(GustInternal) import GustIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Async tier, adversarial")
struct AsyncAdversarialTests {
    static func server(configure: (inout ServerConfiguration) -> Void = { _ in }, routes: (Router) -> Void) throws -> TestServer {
        try TestServer(routes: routes, configure: configure)
    }

    @Test func hugeRouteDeadlineIsNoDeadline() throws {
        let server = try Self.server { router in
            router.get("/a/forever", options: RouteOptions(deadline: .seconds(Int64.max))) { _ in
                try await Task.sleep(for: .milliseconds(30))
                return .text("done")
            }
        }
        let client = try server.client()
        try client.send(get("/a/forever"))
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self) == "done")
    }

    @Test func hugeTimeoutMiddlewareIsNoDeadline() throws {
        let server = try Self.server { router in
            let g = router.group("/g", middleware: [TimeoutMiddleware(.seconds(Int64.max))])
            g.get("/x") { _ in
                try await Task.sleep(for: .milliseconds(30))
                return .text("done")
            }
        }
        let client = try server.client()
        try client.send(get("/g/x"))
        let r = try client.readResponse()
        #expect(r.status == 200)
    }

    @Test func hugeServerDeadlineIsNoDeadline() throws {
        let server = try Self.server(configure: { $0.handlerDeadline = .seconds(Int64.max) }) { router in
            router.get("/a/ctx") { _ in
                try await Task.sleep(for: .milliseconds(30))
                let d = RequestContext.current?.deadline
                return .text(d.map { $0 > ContinuousClock.now ? "future" : "past" } ?? "none")
            }
        }
        let client = try server.client()
        try client.send(get("/a/ctx"))
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self) != "past")
    }

    @Test func headToAsyncStreamSendsNoBody() throws {
        let server = try Self.server { router in
            router.get("/s/now") { _ in
                Response(contentType: .plainTextUTF8, body: .stream { w in try await w.write("hello\n") })
            }
            router.get("/s/later") { _ in
                try await Task.sleep(for: .milliseconds(10))
                return Response(contentType: .plainTextUTF8, body: .stream { w in try await w.write("hello\n") })
            }
        }
        for path in ["/s/now", "/s/later"] {
            let client = try server.client()
            try client.send("HEAD \(path) HTTP/1.1\r\nHost: t\r\n\r\n" + get("/silent-not-there"))
            let r = try client.readResponse(head: true)
            #expect(r.status == 200)
            let next = try client.readResponse()
            #expect(next.status == 404, "\(path): \(next.status) pending \(String(decoding: client.pending, as: UTF8.self))")
        }
    }

    @Test func http10StreamDelimitedByClose() throws {
        let server = try Self.server { router in
            router.get("/s/later") { _ in
                try await Task.sleep(for: .milliseconds(10))
                return Response(contentType: .plainTextUTF8, body: .stream { w in
                    try await w.write("a")
                    try await Task.sleep(for: .milliseconds(5))
                    try await w.write("b")
                })
            }
            router.get("/s/empty") { _ in
                Response(contentType: .plainTextUTF8, body: .stream { _ in })
            }
        }
        for path in ["/s/later", "/s/empty"] {
            let client = try server.client()
            try client.send("GET \(path) HTTP/1.0\r\n\r\n")
            let all = String(decoding: try client.readUntilClosed(), as: UTF8.self)
            #expect(all.hasPrefix("HTTP/1.1 200"))
            #expect(!all.lowercased().contains("transfer-encoding"))
            #expect(all.hasSuffix(path == "/s/later" ? "\r\n\r\nab" : "\r\n\r\n"), "\(all)")
        }
    }

    @Test func pipelinedBehindStreams() throws {
        let server = try Self.server { router in
            router.get("/s/empty") { _ in Response(body: .stream { _ in }) }
            router.get("/s/emptylater") { _ in
                try await Task.sleep(for: .milliseconds(5))
                return Response(body: .stream { _ in })
            }
            router.get("/a/n") { req in .text(req.query("n") ?? "-") }
        }
        let client = try server.client()
        try client.send(get("/s/empty") + get("/a/n?n=1") + get("/s/emptylater") + get("/a/n?n=2") + get("/s/empty") + get("/a/n?n=3"))
        for n in 1...3 {
            _ = try client.readResponse(head: true)
            let body = try readChunkedBody(client)
            #expect(body.complete && body.body == "")
            let r = try client.readResponse()
            #expect(String(decoding: r.body, as: UTF8.self) == "\(n)")
        }
    }

    @Test func handlerWithoutDeadlineCancelledWhenClientLeaves() async throws {
        let saw = Atomic<Int>(0)
        let server = try Self.server(configure: { $0.handlerDeadline = nil }) { router in
            router.get("/a/forever") { _ in
                do { try await Task.sleep(for: .seconds(3600)) } catch { saw.add(1, ordering: .relaxed) ; throw error }
                return .text("no")
            }
        }
        let client = try server.client()
        try client.send(get("/a/forever"))
        usleep(50_000)
        client.abort()
        for _ in 0..<300 where saw.load(ordering: .relaxed) == 0 { usleep(10_000) }
        #expect(saw.load(ordering: .relaxed) == 1)
        let stats = await server.waitUntilIdle()
        #expect(stats.connections == 0)
    }

    @Test func selfThrownCancellationAnswers() throws {
        let server = try Self.server { router in
            router.get("/a/c") { _ in throw CancellationError() }
            router.get("/a/c2") { _ in
                try await Task.sleep(for: .milliseconds(5))
                throw CancellationError()
            }
        }
        let client = try server.client()
        try client.send(get("/a/c") + get("/a/c2") + get("/a/c"))
        for _ in 0..<3 { #expect(try client.readResponse().status == 503) }
    }
}

@Suite("WorkPool, adversarial")
struct WorkPoolAdversarialTests {
    /// CPU ticks (utime + stime) of this process's threads whose name starts with `prefix`.
    static func cpuTicks(ofThreadsNamed prefix: String) -> Int {
        guard let dir = opendir("/proc/self/task") else { return 0 }
        defer { closedir(dir) }
        var total = 0
        while let entry = readdir(dir) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int(tid) != nil else { continue }
            func read(_ file: String) -> String {
                guard let f = fopen("/proc/self/task/\(tid)/\(file)", "r") else { return "" }
                defer { fclose(f) }
                var buffer = [UInt8](repeating: 0, count: 1024)
                let n = fread(&buffer, 1, 1023, f)
                return String(decoding: buffer[0..<n], as: UTF8.self)
            }
            guard read("comm").hasPrefix(prefix) else { continue }
            let stat = read("stat")
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 12 { total += (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0) }  // utime, stime
        }
        return total
    }

    @Test func hugeIdleTimeoutDoesNotSpin() throws {
        var config = WorkPool.Configuration(minimumWorkers: 1, maximumWorkers: 2)
        config.idleTimeout = .seconds(Int64.max)
        config.name = "gust-spin"
        let pool = WorkPool(configuration: config)
        defer { pool.shutdown() }
        usleep(20_000)
        let before = Self.cpuTicks(ofThreadsNamed: "gust-spin")
        usleep(500_000)
        let ticks = Self.cpuTicks(ofThreadsNamed: "gust-spin") - before
        // An idle pool sleeps (0 ticks); a spinning worker burns up to ~50 ticks (10 ms each) here.
        #expect(ticks < 15, "idle pool threads used \(ticks) ticks of CPU in 500 ms")
    }

    @Test func shutdownTwiceAndRecursiveJobs() throws {
        let pool = WorkPool(configuration: WorkPool.Configuration(minimumWorkers: 2, maximumWorkers: 4))
        let done = Atomic<Int>(0)
        @Sendable func spawn(_ depth: Int) {
            done.add(1, ordering: .relaxed)
            if depth < 10 { pool.submit { spawn(depth + 1) }; pool.submit { spawn(depth + 1) } }
        }
        pool.submit { spawn(0) }
        for _ in 0..<500 where done.load(ordering: .relaxed) < 2047 { usleep(10_000) }
        pool.shutdown()
        pool.shutdown()
        #expect(done.load(ordering: .relaxed) == 2047)
    }
}

@Suite("The pool after shutdown")
struct ShutdownAdversarialTests {
    final class Flag: Sendable { let done = Atomic<Bool>(false) }

    @Test func submitAfterShutdownRuns() throws {
        let pool = WorkPool(configuration: WorkPool.Configuration(minimumWorkers: 1, maximumWorkers: 2))
        pool.shutdown()
        let flag = Flag()
        pool.submit { flag.done.store(true, ordering: .relaxed) }
        for _ in 0..<300 where !flag.done.load(ordering: .relaxed) { usleep(10_000) }
        let ran = flag.done.load(ordering: .relaxed)
        #expect(ran, "a job submitted after shutdown never ran")
    }

    /// What `TestApp.execute` does after `TestApp.shutdown` (its I/O pool is shut down): it hung.
    @Test func offloadOnShutDownPoolReturns() throws {
        let pool = WorkPool(configuration: WorkPool.Configuration(minimumWorkers: 1, maximumWorkers: 2))
        pool.shutdown()
        let flag = Flag()
        // Started at once on this thread (the cooperative pool may be busy): submits its job.
        Task.immediate {
            _ = try? await offload(on: pool) { flag.done.store(true, ordering: .relaxed) }
        }
        for _ in 0..<500 where !flag.done.load(ordering: .relaxed) { usleep(10_000) }
        let returned = flag.done.load(ordering: .relaxed)
        #expect(returned, "offload on a shut-down pool never ran its work (and hung)")
    }
}
