import GustWebSocket
import Testing

@Suite struct HandshakeTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    @Test func sha1MatchesFIPS180Examples() {
        #expect(Self.hex(SHA1.digest(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Self.hex(SHA1.digest([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        let two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(Self.hex(SHA1.digest(Array(two.utf8))) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1", "two blocks after padding")
        #expect(Self.hex(SHA1.digest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func base64RoundTripsAndRefusesWhatIsNotCanonical() {
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fooba".utf8)) == "Zm9vYmE=")
        #expect(Base64.encode(Array("foob".utf8)) == "Zm9vYg==")
        #expect(Base64.encode([]) == "")
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.decode("Zm9vYg=") == nil, "length not a multiple of 4")
        #expect(Base64.decode("Zm9v!mFy") == nil)
        #expect(Base64.decode("Zm=vYmFy") == nil, "padding inside")
        #expect(Base64.decode("Zm9vYh==") == nil, "bits left over before the padding")
    }

    @Test func theRFCExampleKey() {
        // RFC 6455 §1.3.
        #expect(WebSocketHandshake.accept(key: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func requestsAreCheckedAsSection4Says() {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        func check(upgrade: [String] = ["websocket"], connection: [String] = ["Upgrade"], version: [String] = ["13"], key: [String] = [key]) -> Result<String, HandshakeFailure> {
            WebSocketHandshake.check(upgrade: upgrade, connection: connection, version: version, key: key)
        }
        #expect(check() == .success(key))
        #expect(check(upgrade: ["WebSocket"], connection: ["keep-alive, Upgrade"]) == .success(key), "tokens, any case, in lists")
        #expect(check(upgrade: []) == .failure(.notWebSocket))
        #expect(check(upgrade: ["h2c"]) == .failure(.notWebSocket))
        #expect(check(connection: ["keep-alive"]) == .failure(.notWebSocket))
        #expect(check(version: ["8"]) == .failure(.unsupportedVersion))
        #expect(check(version: []) == .failure(.unsupportedVersion))
        #expect(check(version: ["13", "13"]) == .failure(.unsupportedVersion))
        #expect(check(key: []) == .failure(.badKey))
        #expect(check(key: [key, key]) == .failure(.badKey))
        #expect(check(key: ["c2hvcnQ="]) == .failure(.badKey), "base64, but of 5 bytes")
        #expect(check(key: ["not base64 at all!!!!!!!"]) == .failure(.badKey))
        #expect(HandshakeFailure.badKey.status == 400 && HandshakeFailure.unsupportedVersion.status == 426)
    }

    @Test func subprotocolsAreChosenInTheClientsOrder() {
        #expect(WebSocketHandshake.selectSubprotocol(offered: ["chat, superchat"], supported: ["superchat", "chat"]) == "chat")
        #expect(WebSocketHandshake.selectSubprotocol(offered: ["a", "b"], supported: ["b"]) == "b")
        #expect(WebSocketHandshake.selectSubprotocol(offered: ["a"], supported: ["b"]) == nil)
        #expect(WebSocketHandshake.selectSubprotocol(offered: ["a"], supported: []) == nil)
    }
}

/// The session machine with a manual clock: heartbeats and the close handshake.
@Suite struct WebSocketMachineTests {
    static let second: Int64 = 1_000_000_000
    static let rules = HeartbeatRules(interval: 30 * second, timeout: 10 * second, jitter: 0.1, closeTimeout: 5 * second)

    static func feed(_ m: inout WebSocketMachine, _ bytes: [UInt8]) -> [String] {
        var input = bytes
        var out: [String] = []
        input.withUnsafeMutableBytes { buffer in
            var offset = 0
            while true {
                var consumed = 0
                let step = m.next(UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]), limits: MessageLimits(), consumed: &consumed)
                offset += consumed
                switch step {
                case .needMore: return
                case .data(_, let piece, let last): out.append("data \(String(decoding: Array(piece), as: UTF8.self)) \(last)")
                case .ping(let p): out.append("ping \(p.count)")
                case .pong: out.append("pong")
                case .closeReceived(let code, let reason): out.append("close \(code.map(\.description) ?? "none") \(reason)")
                case .closeAcknowledged(let code): out.append("acknowledged \(code.map(\.description) ?? "none")")
                case .ignored: out.append("ignored")
                case .fail(let code, _): out.append("fail \(code)")
                }
            }
        }
        return out
    }

    @Test func jitterSpreadsTheFirstPings() {
        var perTick: [Int64: Int] = [:]
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<1000 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let d = WebSocketMachine.firstDeadline(now: 0, rules: Self.rules, random: random)!
            #expect(d > 27 * Self.second - 1 && d <= 30 * Self.second)
            perTick[d / 1_000_000, default: 0] += 1  // milliseconds: the wheel's tick
        }
        // 1,000 over 3,000 ticks at random: about 850 distinct ticks, none with many.
        #expect(perTick.count > 750 && perTick.values.max()! <= 6, "connections opened together ping in different ticks")
        #expect(WebSocketMachine.firstDeadline(now: 0, rules: HeartbeatRules(interval: 0, timeout: 1, closeTimeout: 1), random: 1) == nil)
    }

    @Test func aSilentPeerIsPingedAndATalkingOneIsNot() {
        var m = WebSocketMachine(now: 0)
        let noJitter = HeartbeatRules(interval: 30 * Self.second, timeout: 10 * Self.second, jitter: 0, closeTimeout: 5 * Self.second)
        m.heard(now: 20 * Self.second)
        var step = m.timerFired(now: 30 * Self.second, rules: noJitter, random: 0)
        #expect(step == .wait(until: 50 * Self.second), "it talked 10 s ago")
        step = m.timerFired(now: 50 * Self.second, rules: noJitter, random: 0)
        #expect(step == .ping(deadline: 60 * Self.second))
        m.heard(now: 51 * Self.second)  // the pong
        step = m.timerFired(now: 60 * Self.second, rules: noJitter, random: 0)
        #expect(step == .wait(until: 81 * Self.second))
        step = m.timerFired(now: 81 * Self.second, rules: noJitter, random: 0)
        #expect(step == .ping(deadline: 91 * Self.second))
        step = m.timerFired(now: 91 * Self.second, rules: noJitter, random: 0)
        #expect(step == .dead, "no pong, nothing heard")
    }

    @Test func pingsAreAnsweredAndThePeersCloseIsEchoed() {
        var m = WebSocketMachine(now: 0)
        let ping = MessageAssemblerTests.frame(.ping, "hi")
        let text = MessageAssemblerTests.frame(.text, "hello")
        let close = MessageAssemblerTests.frame(.close, [0x03, 0xE8] + Array("bye".utf8))
        #expect(Self.feed(&m, ping + text + close + text) == ["ping 2", "data hello true", "close 1000 bye"], "nothing after the close")
        #expect(m.phase == .closed)
        let step = m.timerFired(now: 1, rules: Self.rules, random: 0)
        #expect(step == .closeNow)
    }

    @Test func ourCloseWaitsForTheirsAndDropsDataMeanwhile() {
        var m = WebSocketMachine(now: 0)
        let first = m.close()
        let second = m.close()
        #expect(first && !second, "closing twice sends one close frame")
        let text = MessageAssemblerTests.frame(.text, "late")
        let ping = MessageAssemblerTests.frame(.ping, "p")
        let close = MessageAssemblerTests.frame(.close, [0x03, 0xE8])
        #expect(Self.feed(&m, text + ping + close) == ["ignored", "ignored", "acknowledged 1000"])
        #expect(m.phase == .closed)
    }

    @Test func aProtocolErrorFailsTheConnectionOnce() {
        var m = WebSocketMachine(now: 0)
        var unmasked: [UInt8] = [0x81, 0x02, 0x68, 0x69]
        #expect(Self.feed(&m, unmasked) == ["fail 1002"])
        #expect(m.phase == .failed)
        unmasked = MessageAssemblerTests.frame(.text, "x")
        #expect(Self.feed(&m, unmasked) == [], "everything after is dropped")
        var closing = WebSocketMachine(now: 0)
        _ = closing.close()
        #expect(Self.feed(&closing, [0x81, 0x02, 0x68, 0x69]) == ["acknowledged none"], "while closing, a broken peer is just done")
    }
}
