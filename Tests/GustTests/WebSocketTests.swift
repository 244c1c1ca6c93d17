@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the handlers saw, for the tests to check (callbacks run on reactor threads).
final class EventLog: Sendable {
    let events = Mutex<[String]>([])
    func add(_ e: String) { events.withLock { $0.append(e) } }
    var all: [String] { events.withLock { $0 } }
    /// Waits (up to 5 s) for an event that starts with `prefix`.
    func wait(for prefix: String) -> String? {
        for _ in 0..<500 {
            if let e = all.first(where: { $0.hasPrefix(prefix) }) { return e }
            usleep(10_000)
        }
        return nil
    }
}

/// A handler that exercises the API the way an application would, and some ways it should not.
struct Greeter: WebSocketHandler {
    let log: EventLog

    func accept(_ request: borrowing Request) throws -> String {
        let name = request.parameter("name") ?? "?"
        if name == "nobody" { throw HTTPError(.forbidden, "not you") }
        return name
    }

    func onOpen(_ ws: WebSocket<String>) {
        log.add("open \(ws.context)")
        ws.send("hello \(ws.context)")
    }

    func onMessage(_ ws: WebSocket<String>, _ message: borrowing WebSocketMessage) {
        let text = message.text
        switch text {
        case "close":
            ws.close(CloseCode(rawValue: 4000), reason: "asked to")
            ws.close(.normalClosure, reason: "twice")  // ignored: closing already
            ws.send("after close")  // ignored
        case "who":
            ws.send(ws.context)
        case "big":
            ws.send(binary: [UInt8](repeating: 7, count: 5 << 20))
        case "later":
            // From another thread (a thread of its own: in a loaded test run the global
            // executor's few threads may all be blocked by other tests' socket reads).
            let handle = ws.handle
            _ = OSThread.spawn(name: "test-sender") {
                usleep(20_000)
                handle.send("from a task")
            }
        case "fail":
            ws.send(binary: [UInt8](repeating: 1, count: 10))
            ws.close(.internalError)
        default:
            if text.hasPrefix("rename ") {
                ws.context = String(text.dropFirst(7))
                ws.send("renamed")
            } else {
                ws.send(message)
            }
        }
    }

    func onClose(_ ws: WebSocket<String>, code: CloseCode, reason: String) {
        ws.send("too late")  // ignored
        log.add("close \(ws.context) \(code) \(reason)")
    }
}

@Suite struct WebSocketTests {
    static func server(reactors: Int = 1, log: EventLog, options: WebSocketOptions = WebSocketOptions()) throws -> TestServer {
        try TestServer(reactors: reactors, routes: { router in
            router.webSocket("/greet/:name", options: options, handler: Greeter(log: log))
        })
    }

    @Test func theHandlerSeesItsContextAndClosesWithACode() async throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let c = try s.client()
        let r = try c.upgrade("/greet/ada")
        #expect(r.status == 101 && r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(try c.readText() == "hello ada")
        try c.sendText("who")
        #expect(try c.readText() == "ada")
        try c.sendText("rename grace")
        #expect(try c.readText() == "renamed")
        try c.sendText("who")
        #expect(try c.readText() == "grace")
        try c.sendText("close")
        let (code, reason) = try c.readClose()
        #expect(code == 4000 && reason == "asked to")
        try c.sendClose(4000)
        #expect(try c.readUntilClosed().isEmpty, "nothing after the close frame, then TCP closes")
        #expect(log.wait(for: "close grace") == "close grace 4000 ", "onClose hears the client's answer")
        #expect(log.all.count == 2)
        let stats = await s.waitUntilIdle()
        #expect(stats.webSockets.open == 0 && stats.webSockets.opened == 1 && stats.webSockets.closed == 1)
    }

    @Test func acceptCanRefuse() throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let c = try s.client()
        let r = try c.upgrade("/greet/nobody")
        #expect(r.status == 403)
        #expect(log.all.isEmpty)
    }

    @Test func aClientThatClosesIsAnsweredAndHeard() async throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let c = try s.client()
        try c.upgrade("/greet/bo")
        _ = try c.readText()
        try c.sendClose(1001, "leaving")
        let (code, _) = try c.readClose()
        #expect(code == 1001)
        #expect(try c.readUntilClosed().isEmpty)
        #expect(log.wait(for: "close bo") == "close bo 1001 leaving")
    }

    @Test func aClientThatVanishesIsHeardAsAbnormal() async throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let c = try s.client()
        try c.upgrade("/greet/cy")
        _ = try c.readText()
        c.abort()
        #expect(log.wait(for: "close cy")?.hasPrefix("close cy 1006") == true)
        let stats = await s.waitUntilIdle()
        #expect(stats.webSockets.open == 0)
    }

    @Test func aTaskSendsThroughTheHandle() async throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let port = s.port
        let got = try await onOwnThread {
            let c = try TestClient(port: port)
            try c.upgrade("/greet/di")
            _ = try c.readText()
            try c.sendText("later")
            return try c.readText()
        }
        #expect(got == "from a task")
    }

    @Test func bigMessagesGoOutWhateverTheClientReadsAtATime() throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let c = try s.client(receiveBuffer: 4096)
        try c.upgrade("/greet/ed")
        _ = try c.readText()
        try c.sendText("big")
        let (opcode, payload) = try c.readFrame()
        #expect(opcode == 0x2 && payload.count == 5 << 20 && payload.allSatisfy { $0 == 7 })
        try c.sendText("who")
        #expect(try c.readText() == "ed", "read again once its output was out")
    }

    @Test func aPartialFrameLeasesABufferOnlyUntilItIsWhole() async throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let c = try s.client()
        try c.upgrade("/greet/fi")
        _ = try c.readText()
        // Half a frame: the header and 3 of 6 payload bytes.
        let payload = Array("abcdef".utf8)
        var masked = payload
        masked.withUnsafeMutableBytes { FrameCodec.applyMask(0x0102_0304, to: $0) }
        try c.send([0x81, 0x86, 1, 2, 3, 4] + masked[0..<3])
        var stats = await s.server.stats()
        for _ in 0..<500 where stats.webSockets.inputLeases == 0 {
            usleep(10_000)
            stats = await s.server.stats()
        }
        #expect(stats.webSockets.inputLeases == 1, "half a frame: a lease")
        try c.send(Array(masked[3...]))
        #expect(try c.readText() == "abcdef")
        stats = await s.server.stats()
        #expect(stats.webSockets.inputLeases == 0, "whole: given back")
        // A partial header too.
        try c.send([0x81])
        for _ in 0..<500 where stats.webSockets.inputLeases == 0 {
            usleep(10_000)
            stats = await s.server.stats()
        }
        #expect(stats.webSockets.inputLeases == 1)
        try c.send([0x82, 1, 2, 3, 4] + masked[0..<2].map { $0 })
        #expect(try c.readText() == "ab", "the same key: the first two bytes unmask to ab")
        stats = await s.waitUntilIdle()
        #expect(stats.webSockets.inputLeases == 0)
        // An idle WebSocket connection: its record and its timer, no buffer.
        #expect(stats.webSockets.open == 1)
        #expect(stats.reactors[0].outputLeases == 0)
        #expect(stats.webSockets.recordBytes <= 128)
    }

    @Test func theServersPublisherReachesSubscribersOnEveryReactor() async throws {
        let s = try TestServer(reactors: 2)
        let publisher = s.server.publisher
        let clients = try (0..<6).map { _ in try s.client() }
        for c in clients { #expect(try c.upgrade("/ws/topic/alerts").status == 101) }
        try await Task.sleep(for: .milliseconds(100))  // subscribed on open
        publisher.publish("alerts", "fire drill")
        for c in clients { #expect(try c.readText() == "fire drill") }
        publisher.publish("nobody-listens", "lost")  // a topic with no subscribers: nothing
        publisher.publish("alerts", binary: [1, 2, 3])
        for c in clients {
            let (opcode, payload) = try c.readFrame()
            #expect(opcode == 0x2 && payload == [1, 2, 3])
        }
        let stats = await s.server.stats()
        #expect(stats.webSockets.published == 12)
    }

    @Test func gracefulShutdownClosesWebSocketsWithGoingAway() async throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let c = try s.client()
        try c.upgrade("/greet/gus")
        _ = try c.readText()
        let server = s.server
        // The stop blocks: on a thread of its own, not the global executor's (see "later").
        let report = Mutex<ShutdownReport?>(nil)
        _ = OSThread.spawn(name: "test-stop") { report.withLock { $0 = server.stopGracefully() } }
        let client = UncheckedBox(c)
        let code = try await onOwnThread {
            let c = client.value
            let (code, _) = try c.readClose()
            try c.sendClose(1001)
            _ = try c.readUntilClosed()
            return code
        }
        #expect(code == 1001)
        for _ in 0..<1000 where report.withLock({ $0 == nil }) { usleep(10_000) }
        let done = report.withLock { $0 }
        #expect(done?.openAtSignal == 1 && done?.closedUnfinished == 0)
        #expect(log.wait(for: "close gus") == "close gus 1001 ")
    }

    @Test func aSilentClientIsClosedByTheHeartbeatAndCounted() async throws {
        let log = EventLog()
        var options = WebSocketOptions()
        options.pingInterval = .milliseconds(100)
        options.pongTimeout = .milliseconds(100)
        let s = try Self.server(log: log, options: options)
        let quiet = try s.client()
        try quiet.upgrade("/greet/quiet")
        let talker = try s.client()
        try talker.upgrade("/greet/talker")
        _ = try talker.readText()
        // The talker answers pings (and talks); the quiet one reads but never answers.
        for _ in 0..<6 {
            let (opcode, payload) = try talker.readFrame()
            if opcode == 0x9 { try talker.sendFrame(.pong, payload) }
        }
        #expect(log.wait(for: "close quiet")?.hasPrefix("close quiet 1006 no answer to a ping") == true)
        try talker.sendText("who")
        #expect(try talker.readText() == "talker")
        let stats = await s.server.stats()
        #expect(stats.webSockets.heartbeatTimeouts == 1 && stats.webSockets.pingsSent >= 4)
    }
}

@Suite struct AsyncWebSocketTests {
    static func server(log: EventLog) throws -> TestServer {
        try TestServer(routes: { router in
            router.webSocket("/room/:name") { ws in
                let name = ws.request.parameter("name") ?? "?"
                ws.send("welcome to \(name), \(ws.request.query("user") ?? "anonymous")")
                for await message in ws.messages {
                    guard case .text(let text) = message else {
                        ws.send(message)
                        continue
                    }
                    switch text {
                    case "slow":
                        try await Task.sleep(for: .milliseconds(50))  // awaits before replying
                        ws.send("slow done")
                    case "throw":
                        struct Oops: Error {}
                        throw Oops()
                    case "return":
                        return
                    default:
                        ws.send(text)
                    }
                }
                log.add("ended \(name) \(ws.closeStatus.map { "\($0.code)" } ?? "open")")
            }
        })
    }

    @Test func anAsyncHandlerAwaitsRepliesAndEndsWithTheConnection() async throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let port = s.port
        let events = try await onOwnThread { () -> [String] in
            let c = try TestClient(port: port)
            #expect(try c.upgrade("/room/lobby?user=ada").status == 101)
            var got = [try c.readText()]
            try c.sendText("slow")
            try c.sendText("fast")
            got.append(try c.readText())
            got.append(try c.readText())
            try c.sendClose(1000)
            got.append("close \(try c.readClose().code ?? 0)")
            return got
        }
        #expect(events == ["welcome to lobby, ada", "slow done", "fast", "close 1000"], "in order, the slow one first")
        #expect(log.wait(for: "ended lobby") == "ended lobby 1000")
    }

    @Test func returningClosesNormallyAndThrowingCloses1011() async throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let port = s.port
        let codes = try await onOwnThread { () -> [UInt16?] in
            var codes: [UInt16?] = []
            for word in ["return", "throw"] {
                let c = try TestClient(port: port)
                try c.upgrade("/room/x")
                _ = try c.readText()
                try c.sendText(word)
                codes.append(try c.readClose().code)
            }
            return codes
        }
        #expect(codes == [1000, 1011])
    }

    @Test func aFloodWaitsForTheHandlerInsteadOfPilingUp() async throws {
        let log = EventLog()
        let s = try Self.server(log: log)
        let port = s.port
        let count = 2000
        let echoed = try await onOwnThread { () -> Int in
            let c = try TestClient(port: port)
            try c.upgrade("/room/flood")
            _ = try c.readText()
            try c.sendText("slow")  // the handler sleeps while the flood arrives
            for k in 0..<count { try c.sendFrame(.binary, Array(repeating: UInt8(k & 0xFF), count: 1000)) }
            #expect(try c.readText() == "slow done")
            var n = 0
            while n < count {
                let (opcode, payload) = try c.readFrame()
                guard opcode == 0x2 else { continue }
                #expect(payload.count == 1000 && payload[0] == UInt8(n & 0xFF), "in order")
                n += 1
            }
            return n
        }
        #expect(echoed == count)
        let stats = await s.server.stats()
        #expect(stats.webSockets.readPauses > 0, "the connection was not read while the handler's queue was full")
    }
}

/// Heartbeats must not mistake the server's own backpressure for a dead peer.
@Suite struct WebSocketHeartbeatRegressionTests {
    static var quickHeartbeat: WebSocketOptions {
        var o = WebSocketOptions()
        o.pingInterval = .milliseconds(100)
        o.pongTimeout = .milliseconds(100)
        o.maxQueuedBytes = 64 << 20
        return o
    }

    /// Asks a `Greeter` at `path` for its 5 MiB message and reads it slowly, through a 64 KiB
    /// receive buffer: the server's send buffer (up to 4 MiB) cannot take it all, so output
    /// waits on the server while the client reads for over a second. Returns the bytes read.
    static func readBigSlowly(port: Int, path: String) async throws -> Int {
        try await onOwnThread { () -> Int in
            let c = try TestClient(port: port, receiveBuffer: 65536)
            try c.upgrade(path)
            _ = try c.readText()
            try c.sendText("big")  // 5 MiB, read over well past the pong timeout
            var total = c.pending.count  // what came with the greeting
            c.pending = []
            while total < 5 << 20 {
                guard let more = try c.readSome(max: 256 * 1024) else { break }
                total += more.count
                usleep(20_000)
            }
            return total
        }
    }

    @Test func aSlowDownloadIsNotADeadPeer() async throws {
        let log = EventLog()
        let s = try TestServer(routes: { router in
            router.webSocket("/big/:name", options: Self.quickHeartbeat, handler: Greeter(log: log))
        })
        let received = try await Self.readBigSlowly(port: s.port, path: "/big/slow")
        #expect(received >= 5 << 20, "the whole message arrived")
        let stats = await s.server.stats()
        #expect(stats.webSockets.heartbeatTimeouts == 0)
        #expect(!log.all.contains { $0.contains("no answer to a ping") })
    }

    @Test func anAsyncHandlerThatFallsBehindDoesNotGetItsClientKilled() async throws {
        let s = try TestServer(routes: { router in
            router.webSocket("/ticker", options: Self.quickHeartbeat) { ws in
                // Never reads its messages: the connection is paused once 64 wait.
                for k in 0..<20 {
                    ws.send("tick \(k)")
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
        })
        let port = s.port
        let ticks = try await onOwnThread { () -> Int in
            let c = try TestClient(port: port)
            try c.upgrade("/ticker")
            for _ in 0..<200 { try c.sendText("unread") }
            var ticks = 0
            while true {
                let (opcode, payload) = try c.readFrame()
                if opcode == 0x9 { try c.sendFrame(.pong, payload) }
                if opcode == 0x1 { ticks += 1 }
                if opcode == 0x8 { return ticks }
            }
        }
        #expect(ticks == 20, "served to the end, then closed by the handler's return")
        let stats = await s.server.stats()
        #expect(stats.webSockets.heartbeatTimeouts == 0 && stats.webSockets.readPauses > 0)
    }
}

/// Found on the last read: control frames and the slow-consumer bound; a paused connection's
/// client leaving.
@Suite struct WebSocketQueueRegressionTests {
    @Test func pingsBehindAMessageLargerThanTheQueueBoundDoNotCutAReadingClient() async throws {
        let log = EventLog()
        var options = WebSocketHeartbeatRegressionTests.quickHeartbeat
        options.maxQueuedBytes = 64 * 1024  // far below the 5 MiB message
        let s = try TestServer(routes: { router in
            router.webSocket("/big/:name", options: options, handler: Greeter(log: log))
        })
        let received = try await WebSocketHeartbeatRegressionTests.readBigSlowly(port: s.port, path: "/big/reader")
        #expect(received >= 5 << 20)
        let stats = await s.server.stats()
        #expect(stats.webSockets.slowConsumers == 0 && stats.webSockets.heartbeatTimeouts == 0)
    }

    @Test func aPausedConnectionsClientThatLeavesIsNoticed() async throws {
        let s = try TestServer(routes: { router in
            router.webSocket("/never-reads") { ws in
                try await Task.sleep(for: .seconds(30))  // never reads its messages
                ws.send("too late")
            }
        })
        let port = s.port
        try await onOwnThread {
            let c = try TestClient(port: port)
            try c.upgrade("/never-reads")
            for _ in 0..<200 { try c.sendText("unread") }  // past the queue: paused
            usleep(100_000)
            c.shutdownWrite()  // the client leaves (FIN, no reset)
            usleep(100_000)
        }
        var stats = await s.server.stats()
        for _ in 0..<300 where stats.webSockets.open > 0 {
            usleep(10_000)
            stats = await s.server.stats()
        }
        #expect(stats.webSockets.readPauses > 0)
        #expect(stats.webSockets.open == 0, "closed when its client left, not when the handler wakes")
    }
}
