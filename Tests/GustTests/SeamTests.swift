@testable import Gust
@_spi(GustInternal) import GustIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The seams the next pieces of work build on, each on a real server: answers from other
/// threads, drain mode, and handing a connection to another protocol.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
    func add() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

/// Another thread that answers deferred requests, in whatever order it finds them (a plain OS
/// thread: the test's own blocking reads must not starve it, as they could a task).
final class AnswerThread: Sendable {
    let queue = Mutex<(items: [(DeferredResponse, Int)], stop: Bool)>(([], false))
    let answered = Counter()
    let thread = Mutex<OSThread?>(nil)

    init() {
        let spawned = OSThread.spawn(name: "answers") { [self] in
            while true {
                let (batch, stop) = queue.withLock { q -> ([(DeferredResponse, Int)], Bool) in
                    let taken = q.items
                    q.items.removeAll()
                    return (taken, q.stop)
                }
                if stop { return }
                for (deferred, id) in batch.shuffled() {
                    deferred.respond { res in res.send(.ok, "answer \(id)") }
                    answered.add()
                }
                usleep(UInt32.random(in: 100...2000))
            }
        }
        thread.withLock { $0 = spawned }
    }

    func answer(_ deferred: DeferredResponse, _ id: Int) { queue.withLock { $0.items.append((deferred, id)) } }
    /// Stops the thread and waits for it.
    func stop() {
        queue.withLock { $0.stop = true }
        thread.withLock { $0 }?.join()
    }
}

@Suite struct CompletionHandleTests {
    /// Answers `/later?id=N` from another thread.
    func server(_ thread: AnswerThread) throws -> TestServer {
        try TestServer(routes: { router in
            router.get("/later") { req, res in
                thread.answer(res.deferResponse(), req.queryInt("id") ?? -1)
            }
        })
    }

    @Test func answersFromOtherThreadsReachTheirOwnRequestsInOrder() throws {
        let thread = AnswerThread()
        defer { thread.stop() }
        let s = try server(thread)
        // Several connections, each with pipelined requests answered from a thread pool in any
        // order: every response must be its own request's, in request order.
        let clients = try (0..<8).map { _ in try s.client() }
        for (k, c) in clients.enumerated() {
            try c.send((0..<25).map { get("/later?id=\(k * 1000 + $0)") }.joined())
        }
        for (k, c) in clients.enumerated() {
            for n in 0..<25 {
                let r = try c.readResponse()
                #expect(r.status == 200 && r.text == "answer \(k * 1000 + n)")
            }
        }
    }

    @Test func anAnswerForAClientThatLeftIsHarmless() async throws {
        let thread = AnswerThread()
        defer { thread.stop() }
        let s = try server(thread)
        for _ in 0..<20 {
            let c = try s.client()
            try c.send(get("/later?id=1"))
            c.abort()
        }
        for _ in 0..<300 where thread.answered.count < 20 { usleep(10_000) }
        let stats = await s.waitUntilIdle()
        #expect(stats.connections == 0 && stats.outputLeases == 0)
        let c = try s.client()
        try c.send(get("/plaintext"))
        #expect(try c.readResponse().text == "Hello, World!")
    }

    @Test func onlyTheFirstAnswerCountsFromAnyThread() throws {
        let s = try TestServer(routes: { router in
            router.get("/twice") { _, res in
                let deferred = res.deferResponse()
                let answering = OSThread.spawn(name: "twice") {
                    deferred.respond { res in res.send(.ok, "first") }
                    deferred.respond { res in res.send(.ok, "second") }
                }
                answering.join()  // two answers from another thread, both queued before the handler returns
            }
        })
        let c = try s.client()
        try c.send(get("/twice") + get("/plaintext"))
        #expect(try c.readResponse().text == "first")
        #expect(try c.readResponse().text == "Hello, World!")
    }
}

@Suite struct DrainModeTests {
    @Test func idleConnectionsCloseAtOnceAndBusyOnesAfterTheirAnswer() async throws {
        let s = try TestServer()
        let idle = try s.client()
        try idle.send(get("/plaintext"))
        #expect(try idle.readResponse().status == 200)
        let busy = try s.client()
        try busy.send(get("/delay?ms=1500") + get("/plaintext"))
        usleep(50_000)
        s.server.drain()  // (no await before it: the answer must still be owed when it lands)
        #expect(try idle.readUntilClosed().isEmpty, "an idle keep-alive connection is closed at once")
        let answer = try busy.readResponse()
        #expect(answer.text == "waited 1500 ms\n" && answer.header("Connection") == "close")
        #expect(try busy.readUntilClosed().isEmpty, "the request behind it is not served")
        // No new connection is taken.
        let late = try? s.client()
        try? late?.send(get("/plaintext"))
        usleep(100_000)
        let after = await s.server.stats()
        #expect(after.accepted == 2)
    }
}

/// A protocol for the hand-off test: echoes what it reads, closes on "bye".
final class EchoProtocol: UpgradeHandler, @unchecked Sendable {  // touched on its reactor only
    let taken = Atomic<Int>(0)

    func takeOver(_ connection: UpgradedConnection, unread: UnsafeRawBufferPointer) {
        taken.add(1, ordering: .relaxed)
        if !unread.isEmpty { _ = send(connection.fd, unread.baseAddress, unread.count, Int32(MSG_NOSIGNAL)) }
    }

    func ready(_ connection: UpgradedConnection, events: Events) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard n > 0 else {
            if n == 0 || errno != EAGAIN { connection.close() }
            return
        }
        let bytes = Array(buffer[0..<n])
        if bytes == Array("bye".utf8) { return connection.close() }
        _ = bytes.withUnsafeBytes { send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

@Suite struct UpgradeHandOffTests {
    @Test func aConnectionGoesToAnotherProtocolWithTheBytesAfterItsRequest() async throws {
        let echo = EchoProtocol()
        let s = try TestServer(routes: { router in
            router.get("/echo") { req, res in
                guard req.header("Upgrade") == "echo" else { return res.send(.badRequest, "Upgrade: echo, please\n") }
                res.upgrade(to: "echo", handler: echo)
            }
        })
        let c = try s.client()
        try c.send(get("/echo", "Upgrade: echo\r\nConnection: upgrade\r\n") + "early bytes")
        let head = try c.readResponse(head: true)
        #expect(head.status == 101 && head.header("Upgrade") == "echo" && head.header("Connection") == "Upgrade")
        try c.fill(11)
        #expect(String(decoding: c.pending, as: UTF8.self) == "early bytes", "what followed the request reaches the new protocol")
        c.pending = []
        try c.send("more")
        try c.fill(4)
        #expect(String(decoding: c.pending, as: UTF8.self) == "more")
        try c.send("bye")
        #expect(try c.readUntilClosed() == Array("more".utf8))
        #expect(echo.taken.load(ordering: .relaxed) == 1)
        let stats = await s.waitUntilIdle()
        #expect(stats.connections == 0, "the HTTP side let go of it")
    }
}
