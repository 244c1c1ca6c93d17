@_spi(GustInternal) import Gust
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Connections a handler keeps, the way a hurried chat room does (and forgets to prune in
/// `onClose`). Used on the reactor's thread only (one reactor in these tests).
final class Room<Context>: @unchecked Sendable {
    var members: [WebSocket<Context>] = []
}

/// The public API misused, and hostile peers: nothing may crash, hang or leak.
@Suite struct WebSocketAdversarialTests {
    /// A stored `WebSocket` whose connection has closed: every call is a no-op, and its
    /// `context` still reads (the connection's last value), instead of trapping.
    @Test func aStoredWebSocketOfAClosedConnectionIsHarmless() async throws {
        struct Keeper: WebSocketHandler {
            let room: Room<String>
            func accept(_ request: borrowing Request) throws -> String { request.parameter("name") ?? "?" }
            func onOpen(_ ws: WebSocket<String>) { room.members.append(ws) }
            func onMessage(_ ws: WebSocket<String>, _ message: borrowing WebSocketMessage) {
                // Everyone's name, closed members included (never pruned).
                let names = room.members.map { "\($0.context)\($0.isOpen ? "" : "(gone)")" }
                for member in room.members {
                    member.context = member.context  // a write after close, too
                    member.subscribe("t")
                    member.send(names.joined(separator: ","))
                    member.handle.send("x")
                }
            }
        }
        let s = try TestServer(routes: { router in router.webSocket("/keep/:name", handler: Keeper(room: Room())) })
        let a = try s.client()
        try a.upgrade("/keep/a")
        try a.sendClose(1000)
        _ = try a.readClose()
        _ = try a.readUntilClosed()
        let b = try s.client()
        try b.upgrade("/keep/b")
        try b.sendText("hi")
        #expect(try b.readText() == "a(gone),b")
        let stats = await s.server.stats()
        #expect(stats.webSockets.open == 1)
    }

    /// A close code that may not be sent (1005, 1006, 1015, or not a code at all) from the
    /// application must not reach the wire (RFC 6455 §7.4.1): the close frame then carries no
    /// code, and the client can still answer it.
    @Test func closeCodesThatMayNotBeSentStayOffTheWire() throws {
        let s = try TestServer(routes: { router in
            router.webSocket("/bad-close") { ws, message in
                ws.close(CloseCode(rawValue: UInt16(message.text) ?? 0), reason: "bye")
            }
        })
        for code in [1005, 1006, 1015, 0, 999, 2000, 5000] {
            let c = try s.client()
            try c.upgrade("/bad-close")
            try c.sendText("\(code)")
            let (got, _) = try c.readClose()
            #expect(got == nil || got.map { CloseCode(rawValue: $0).isValidOnTheWire } == true, "sent \(String(describing: got)) for \(code)")
        }
    }

    /// A HEAD request is not a handshake (§4.1: the method is GET).
    @Test func aHeadRequestIsNotUpgraded() throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(
            "HEAD /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let r = try c.readResponse(head: true)
        #expect(r.status != 101)
    }

    /// An async handler that returns while its connection is paused (it left messages unread)
    /// must still complete the close handshake: the client's close frame is read at once, not
    /// after `closeTimeout`.
    @Test func anAsyncHandlerThatReturnsWithUnreadMessagesClosesPromptly() async throws {
        var options = WebSocketOptions()
        options.closeTimeout = .seconds(3)
        let s = try TestServer(routes: { router in
            router.webSocket("/leave", options: options) { ws in
                try await Task.sleep(for: .milliseconds(300))  // the flood arrives meanwhile, unread
            }
        })
        let port = s.port
        let elapsed = try await onOwnThread { () -> Double in
            let c = try TestClient(port: port)
            try c.upgrade("/leave")
            for _ in 0..<200 { try c.sendText("unread") }
            let (code, _) = try c.readClose()
            #expect(code == 1000)
            let start = ContinuousClock.now
            try c.sendClose(1000)
            _ = try c.readUntilClosed()
            let d = ContinuousClock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        #expect(elapsed < 1.5, "TCP closed \(elapsed) s after the client's close frame (closeTimeout 3 s)")
        let stats = await s.waitUntilIdle()
        #expect(stats.webSockets.open == 0 && stats.webSockets.inputLeases == 0 && stats.outputLeases == 0)
    }

    /// Two tasks reading one connection's messages: each message goes to one of them, and when
    /// the connection closes both sequences end (no continuation is dropped, no task hangs).
    @Test func twoTasksReadingTheMessagesBothEndWithTheConnection() async throws {
        let log = EventLog()
        let s = try TestServer(routes: { router in
            router.webSocket("/two") { ws in
                await withTaskGroup(of: Int.self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            var n = 0
                            for await _ in ws.messages { n += 1 }
                            return n
                        }
                    }
                    var total = 0
                    for await n in group { total += n }
                    log.add("ended \(total)")
                }
            }
        })
        let port = s.port
        try await onOwnThread {
            let c = try TestClient(port: port)
            try c.upgrade("/two")
            usleep(100_000)  // both readers wait
            try c.sendText("one")
            try c.sendText("two")
            usleep(100_000)
            try c.sendClose(1000)
            _ = try c.readClose()
            _ = try c.readUntilClosed()
        }
        #expect(log.wait(for: "ended") == "ended 2")
    }

    /// Callbacks that reach other connections from `onClose` (close them, send to them, publish
    /// to a topic whose subscribers are closing) while the server stops: no crash, no leak.
    @Test func onCloseThatClosesOthersAndPublishesDuringShutdown() async throws {
        struct Chain: WebSocketHandler {
            let room: Room<Void>
            func onOpen(_ ws: WebSocket<Void>) {
                room.members.append(ws)
                ws.subscribe("all")
            }
            func onMessage(_ ws: WebSocket<Void>, _ message: borrowing WebSocketMessage) {
                ws.publish("all", message)
                for m in room.members { m.unsubscribe("all"); m.subscribe("all") }
            }
            func onClose(_ ws: WebSocket<Void>, code: CloseCode, reason: String) {
                ws.subscribe("late")  // refused: closed
                ws.publish("all", "\(ws.isOpen) left")
                for m in room.members {
                    m.send("bye")
                    m.close(.goingAway)
                    m.handle.close()
                }
            }
        }
        let s = try TestServer(routes: { router in router.webSocket("/chain", handler: Chain(room: Room())) })
        let clients = try (0..<5).map { _ in try s.client() }
        for c in clients { try c.upgrade("/chain") }
        try clients[0].sendText("hello")
        #expect(try clients[1].readText() == "hello")
        clients[2].abort()  // its onClose closes everyone
        for (k, c) in clients.enumerated() where k != 2 {
            let (code, _) = try c.readClose()
            #expect(code == 1001)
            try c.sendClose(1001)
            _ = try c.readUntilClosed()
        }
        let stats = await s.waitUntilIdle()
        #expect(stats.webSockets.open == 0)
        #expect(stats.webSockets.inputLeases == 0 && stats.outputLeases == 0)
        s.server.shutdown()
    }

    /// Absurd option values (huge, zero, negative, NaN): clamped, never a trap.
    @Test func absurdOptionsAreClampedNotATrap() async throws {
        let absurd = [
            WebSocketOptions(
                maxFrameSize: .max, maxMessageSize: .max, pingInterval: .seconds(Int64.max), pongTimeout: .seconds(Int64.max),
                pingJitter: .infinity, closeTimeout: .seconds(Int64.max), maxQueuedBytes: .max),
            WebSocketOptions(
                maxFrameSize: -1, maxMessageSize: -5, pingInterval: .seconds(-1), pongTimeout: .seconds(-1), pingJitter: -.nan,
                closeTimeout: .zero, maxQueuedBytes: -1),
            WebSocketOptions(pingInterval: .nanoseconds(1), pongTimeout: .nanoseconds(1), pingJitter: .nan, closeTimeout: .nanoseconds(1)),
        ]
        let s = try TestServer(routes: { router in
            for (k, o) in absurd.enumerated() { router.webSocket("/absurd/\(k)", options: o) { ws, m in ws.send(m) } }
        })
        for k in absurd.indices {
            let c = try s.client()
            #expect(try c.upgrade("/absurd/\(k)").status == 101)
            try c.sendText("")
            if k != 2 { #expect(try c.readText() == "") }  // 2 may be closed as dead at once
            try? c.sendClose(1000)
            _ = try? c.readUntilClosed()
        }
        let stats = await s.waitUntilIdle()
        #expect(stats.webSockets.open == 0 && stats.webSockets.inputLeases == 0 && stats.outputLeases == 0)
    }
}
