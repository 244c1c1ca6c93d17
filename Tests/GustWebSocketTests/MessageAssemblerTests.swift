import GustWebSocket
import Testing

/// A client's frames through the assembler, as a connection would feed them: fragmentation
/// with control frames in between, UTF-8 across fragments, sizes, and the protocol errors of
/// §5.4-§5.6 (the Autobahn case groups on fragmentation, UTF-8 and close handling).
@Suite struct MessageAssemblerTests {
    /// A masked client frame.
    static func frame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, key: UInt32 = 0x1234_5678) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue]
        if payload.count < 126 {
            out.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(0x80 | 127)
            out += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(payload.count) >> (56 - 8 * $0)) }
        }
        out += [UInt8(key >> 24), UInt8((key >> 16) & 0xFF), UInt8((key >> 8) & 0xFF), UInt8(key & 0xFF)]
        var masked = payload
        masked.withUnsafeMutableBytes { FrameCodec.applyMask(key, to: $0) }
        return out + masked
    }

    static func frame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) -> [UInt8] { frame(opcode, Array(text.utf8), fin: fin) }

    /// What the assembler makes of `input`, fed in pieces of `chunk` bytes (bytes not consumed
    /// are kept, as a connection keeps them): messages as strings, control frames as "ping:x",
    /// and a failure as "fail 1002".
    static func run(_ input: [UInt8], chunk: Int = .max, limits: MessageLimits = MessageLimits()) -> [String] {
        var a = MessageAssembler()
        var events: [String] = []
        var current: [UInt8] = []
        var kept: [UInt8] = []
        var offset = 0
        while offset < input.count || !kept.isEmpty {
            let take = min(chunk, input.count - offset)
            kept += input[offset..<(offset + take)]
            offset += take
            var progress = true
            while progress {
                progress = false
                var consumed = 0
                let step = kept.withUnsafeMutableBytes { bytes -> AssemblerStep in a.next(bytes, limits: limits, consumed: &consumed) }
                switch step {
                case .needMore:
                    break
                case .data(_, let piece, let last):
                    current += Array(piece)
                    if last {
                        events.append(String(decoding: current, as: UTF8.self))
                        current = []
                    }
                    progress = true
                case .control(let op, let payload):
                    events.append("\(op):\(String(decoding: Array(payload), as: UTF8.self))")
                    progress = true
                case .fail(let code, _):
                    events.append("fail \(code)")
                    return events
                }
                kept.removeFirst(consumed)
                if consumed > 0 { progress = progress || !kept.isEmpty }
            }
            if take == 0 && offset >= input.count { break }
        }
        return events
    }

    @Test(arguments: [1, 2, 3, 7, 64, Int.max])
    func fragmentsWithControlFramesBetween(_ chunk: Int) {
        let input = Self.frame(.text, "Hel", fin: false) + Self.frame(.ping, "p1") + Self.frame(.continuation, "lo, ", fin: false)
            + Self.frame(.pong, "") + Self.frame(.continuation, "world") + Self.frame(.binary, [1, 2, 3])
        let events = Self.run(input, chunk: chunk)
        #expect(events == ["ping:p1", "pong:", "Hello, world", "\u{1}\u{2}\u{3}"], "chunk \(chunk)")
    }

    @Test func textSplitInsideACharacterAcrossFragmentsIsFine() {
        let clef = Array("𝄞".utf8)  // four bytes
        let input = Self.frame(.text, Array(clef[..<2]), fin: false) + Self.frame(.continuation, Array(clef[2...]))
        #expect(Self.run(input) == ["𝄞"])
    }

    @Test func invalidUTF8FailsAtTheFirstBadByteNotAtTheEnd() {
        // The bad byte is in the first fragment: the failure comes before the message ends.
        let input = Self.frame(.text, [0x61, 0xED, 0xA0, 0x80], fin: false)
        #expect(Self.run(input) == ["fail 1007"])
        #expect(Self.run(Self.frame(.text, [0x61, 0xF0, 0x9D])) == ["fail 1007"], "ends inside a character")
        #expect(Self.run(Self.frame(.binary, [0xFF, 0xFE])) == ["\u{FFFD}\u{FFFD}"], "binary is not checked")
    }

    @Test func fragmentationErrors() {
        #expect(Self.run(Self.frame(.continuation, "x")) == ["fail 1002"], "a continuation with nothing to continue")
        #expect(Self.run(Self.frame(.text, "a", fin: false) + Self.frame(.text, "b")) == ["fail 1002"], "a new message inside one")
        #expect(Self.run(Self.frame(.ping, "x", fin: false)) == ["fail 1002"], "a fragmented ping")
    }

    @Test func sizesAreLimited() {
        let small = MessageLimits(maxFrame: 100, maxMessage: 150)
        #expect(Self.run(Self.frame(.binary, [UInt8](repeating: 1, count: 101)), limits: small) == ["fail 1009"])
        let two = Self.frame(.binary, [UInt8](repeating: 1, count: 100), fin: false) + Self.frame(.continuation, [UInt8](repeating: 1, count: 60))
        #expect(Self.run(two, limits: small) == ["fail 1009"], "fragments adding up past the message limit")
        #expect(Self.run(Self.frame(.binary, [UInt8](repeating: 7, count: 70000)), chunk: 1000).first?.count == 70000)
    }

    @Test func closeFramesAreChecked() {
        #expect(Self.run(Self.frame(.close, [0x03, 0xE8] + Array("bye".utf8))) == ["close:\u{3}\u{FFFD}bye"])
        #expect(Self.run(Self.frame(.close, [])) == ["close:"])
        #expect(Self.run(Self.frame(.close, [0x03])) == ["fail 1002"])
        #expect(Self.run(Self.frame(.close, [0x03, 0xED])) == ["fail 1002"], "1005 may not be sent")
        #expect(Self.run(Self.frame(.close, [0x03, 0xE8, 0xC0, 0xAF])) == ["fail 1007"], "a reason that is not UTF-8")
    }

    @Test func emptyMessagesAndAnIdleAssembler() {
        var a = MessageAssembler()
        #expect(a.isIdle)
        #expect(Self.run(Self.frame(.text, "") + Self.frame(.binary, [])) == ["", ""])
        var consumed = 0
        var partial = Self.frame(.text, "abc", fin: false)
        _ = partial.withUnsafeMutableBytes { a.next($0, consumed: &consumed) }
        #expect(!a.isIdle, "a message part-way through")
    }
}
