import GustWebSocket
import Testing

/// The frame codec on the bytes of RFC 6455 §5.7's examples, and on every protocol error §5
/// names (each with the close code a server must answer).
@Suite struct FrameCodecTests {
    func parse(_ bytes: [UInt8], limit: UInt64 = 1 << 20) -> FrameHeaderParse {
        bytes.withUnsafeBytes { FrameCodec.parseClientHeader($0, limits: FrameLimits(maxFramePayload: limit)) }
    }

    func unmask(_ bytes: [UInt8], key: UInt32, offset: UInt64 = 0) -> [UInt8] {
        var copy = bytes
        copy.withUnsafeMutableBytes { FrameCodec.applyMask(key, to: $0, offset: offset) }
        return copy
    }

    @Test func aMaskedTextFrameFromTheRFC() {
        // §5.7: a single-frame masked text message, "Hello".
        let frame: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        guard case .header(let header, let length) = parse(frame) else { Issue.record("\(parse(frame))"); return }
        #expect(header == FrameHeader(fin: true, opcode: .text, maskKey: 0x37fa_213d, payloadLength: 5))
        #expect(length == 6)
        #expect(unmask(Array(frame[6...]), key: 0x37fa_213d) == Array("Hello".utf8))
        // A masked pong with the same body (§5.7).
        var pong = frame
        pong[0] = 0x8a
        guard case .header(let p, _) = parse(pong) else { Issue.record("pong"); return }
        #expect(p.opcode == .pong && p.fin)
    }

    @Test func unmaskingInPiecesGivesTheSameBytes() {
        let key: UInt32 = 0xA1B2_C3D4
        let text = Array("a payload long enough to cross several eight-byte words, in pieces".utf8)
        let masked = unmask(text, key: key)
        for cut in [1, 3, 7, 8, 13, 40] {
            let first = unmask(Array(masked[..<cut]), key: key)
            let second = unmask(Array(masked[cut...]), key: key, offset: UInt64(cut))
            #expect(first + second == text, "cut at \(cut)")
        }
    }

    @Test func lengthsInTheirThreeForms() {
        // 7-bit, 16-bit (126) and 64-bit (127) lengths, masked.
        #expect(parse([0x82, 0x80 | 125, 1, 2, 3, 4]) == .header(FrameHeader(fin: true, opcode: .binary, maskKey: 0x0102_0304, payloadLength: 125), length: 6))
        #expect(parse([0x82, 0x80 | 126, 0x01, 0x00, 1, 2, 3, 4]) == .header(FrameHeader(fin: true, opcode: .binary, maskKey: 0x0102_0304, payloadLength: 256), length: 8))
        #expect(parse([0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]) == .header(FrameHeader(fin: true, opcode: .binary, maskKey: 0x0102_0304, payloadLength: 65536), length: 14))
    }

    @Test func aHeaderInPiecesAsksForWhatItNeeds() {
        let full: [UInt8] = [0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]
        for n in 0..<full.count {
            guard case .needMore(let needed) = parse(Array(full[..<n])) else { Issue.record("\(n) bytes: \(parse(Array(full[..<n])))"); return }
            #expect(needed > n && needed <= full.count)
        }
    }

    @Test func fragmentedFramesFromTheRFC() {
        // §5.7: "Hel" then "lo" (masked here, as a client sends them).
        guard case .header(let first, _) = parse([0x01, 0x83, 0, 0, 0, 0]), case .header(let last, _) = parse([0x80, 0x82, 0, 0, 0, 0]) else {
            Issue.record("fragments")
            return
        }
        #expect(first.opcode == .text && !first.fin && first.payloadLength == 3)
        #expect(last.opcode == .continuation && last.fin && last.payloadLength == 2)
    }

    static let protocolErrors: [([UInt8], CloseCode)] = [
        ([0x81, 0x05], .protocolError),  // unmasked client frame
        ([0x91, 0x80, 0, 0, 0, 0], .protocolError),  // RSV1
        ([0xA1, 0x80, 0, 0, 0, 0], .protocolError),  // RSV2
        ([0xC1, 0x80, 0, 0, 0, 0], .protocolError),  // RSV3
        ([0x83, 0x80, 0, 0, 0, 0], .protocolError),  // reserved data opcode 3
        ([0x87, 0x80, 0, 0, 0, 0], .protocolError),  // reserved data opcode 7
        ([0x8B, 0x80, 0, 0, 0, 0], .protocolError),  // reserved control opcode 0xB
        ([0x8F, 0x80, 0, 0, 0, 0], .protocolError),  // reserved control opcode 0xF
        ([0x09, 0x80, 0, 0, 0, 0], .protocolError),  // fragmented ping
        ([0x88, 0x80 | 126, 0, 126, 0, 0, 0, 0], .protocolError),  // close of 126 bytes
        ([0x89, 0x80 | 126, 0, 200, 0, 0, 0, 0], .protocolError),  // ping of 200 bytes
        ([0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .protocolError),  // length's top bit
        ([0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0], .messageTooBig),  // 2 MiB > 1 MiB
    ]

    @Test(arguments: protocolErrors)
    func protocolErrorsGetTheirCloseCodes(_ frame: [UInt8], _ code: CloseCode) {
        guard case .fail(let got, _) = parse(frame) else { Issue.record("accepted: \(frame)"); return }
        #expect(got == code)
    }

    @Test func serverHeadersUseTheShortestLength() {
        func header(_ length: Int, fin: Bool = true, _ opcode: WebSocketOpcode = .binary) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: FrameCodec.maxServerHeaderLength)
            let n = out.withUnsafeMutableBytes { FrameCodec.writeServerHeader(fin: fin, opcode: opcode, payloadLength: length, into: $0.baseAddress!) }
            return Array(out[..<n])
        }
        #expect(header(5, .text) == [0x81, 0x05])  // §5.7 "Hello", unmasked
        #expect(header(125) == [0x82, 125])
        #expect(header(256) == [0x82, 0x7E, 0x01, 0x00])  // §5.7: 256 bytes
        #expect(header(65535) == [0x82, 0x7E, 0xFF, 0xFF])
        #expect(header(65536) == [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])  // §5.7: 64 KiB
        #expect(header(3, fin: false, .text) == [0x01, 0x03])
    }
}

@Suite struct ClosePayloadTests {
    func parse(_ bytes: [UInt8]) -> Result<(code: CloseCode?, reason: String), CloseFailure> {
        bytes.withUnsafeBytes { ClosePayload.parse($0) }
    }

    @Test func codesAndReasons() throws {
        #expect(try parse([]).get().code == nil)
        let normal = try parse([0x03, 0xE8] + Array("bye".utf8)).get()
        #expect(normal.code == .normalClosure && normal.reason == "bye")
        #expect(try parse([0x0F, 0xA0]).get().code == CloseCode(rawValue: 4000))
        #expect(try parse([0x0B, 0xB8]).get().code == CloseCode(rawValue: 3000))
    }

    @Test(arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] as [UInt16])
    func codesThatMayNotBeSentAreAProtocolError(_ code: UInt16) {
        guard case .failure(let f) = parse([UInt8(code >> 8), UInt8(code & 0xFF)]) else { Issue.record("accepted \(code)"); return }
        #expect(f.code == .protocolError)
    }

    @Test func aLoneByteOrABadReason() {
        guard case .failure(let one) = parse([0x03]) else { Issue.record("one byte"); return }
        #expect(one.code == .protocolError)
        guard case .failure(let bad) = parse([0x03, 0xE8, 0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80]) else {
            Issue.record("a surrogate in the reason")
            return
        }
        #expect(bad.code == .invalidPayload)
    }

    @Test func writtenPayloadsFitAControlFrame() throws {
        var out = [UInt8](repeating: 0, count: 125)
        let long = String(repeating: "é", count: 100)  // 200 bytes of UTF-8
        let n = out.withUnsafeMutableBytes { ClosePayload.write(code: .goingAway, reason: long, into: $0) }
        #expect(n == 124, "cut on a character boundary: the code and 61 whole 2-byte characters")
        #expect(out[0] == 0x03 && out[1] == 0xE9)
        #expect(try parse(Array(out[..<n])).get().reason == String(repeating: "é", count: (n - 2) / 2))
    }
}

@Suite struct UTF8ValidatorTests {
    func valid(_ bytes: [UInt8], split: Int? = nil) -> Bool {
        var v = UTF8Validator()
        if let split, split <= bytes.count {
            let a = bytes[..<split].withUnsafeBytes { v.consume(UnsafeRawBufferPointer($0)) }
            let b = bytes[split...].withUnsafeBytes { v.consume(UnsafeRawBufferPointer($0)) }
            return a && b && v.isComplete
        }
        return bytes.withUnsafeBytes { v.consume($0) } && v.isComplete
    }

    @Test func wellFormedTextInAnyPieces() {
        let text = Array("Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 \u{10FFFF} \u{FFFD}".utf8) + Array(repeating: UInt8(ascii: "a"), count: 37)
        for split in 0...text.count { #expect(valid(text, split: split), "split at \(split)") }
    }

    static let malformedSequences: [[UInt8]] = [
        [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xF0, 0x80, 0x80, 0xAF],  // overlong "/"
        [0xC1, 0xBF],  // overlong
        [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],  // surrogates
        [0xF4, 0x90, 0x80, 0x80],  // U+110000
        [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xFE],
        [0x80], [0xBF],  // a continuation byte first
        [0xCE, 0x41],  // a lead byte without its continuation
    ]

    @Test(arguments: malformedSequences)
    func malformed(_ bytes: [UInt8]) {
        #expect(!valid(bytes), "\(bytes)")
        #expect(!valid(Array("ok".utf8) + bytes + Array("ok".utf8)))
    }

    @Test func agreesWithTheStandardLibraryOnRandomBytes() {
        // Short sequences weighted towards the bytes that matter (leads, continuations,
        // boundaries), each checked whole and split in two against Swift's own decoder.
        var rng = SystemRandomNumberGenerator()
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                                    0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        for _ in 0..<20_000 {
            let n = Int.random(in: 1...6, using: &rng)
            let bytes = (0..<n).map { _ in Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng) }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(valid(bytes) == expected, "\(bytes)")
            #expect(valid(bytes, split: Int.random(in: 0...n, using: &rng)) == expected, "\(bytes) split")
        }
    }

    @Test func aCharacterCutAtTheEndIsIncompleteNotInvalid() {
        var v = UTF8Validator()
        let partial: [UInt8] = [0x61, 0xF0, 0x9D]
        #expect(partial.withUnsafeBytes { v.consume($0) })
        #expect(!v.isComplete)
        #expect(([0x84, 0x9E] as [UInt8]).withUnsafeBytes { v.consume($0) } && v.isComplete)  // 𝄞 completed
    }

    @Test func failsAtTheFirstBadByteAndStaysFailed() {
        var v = UTF8Validator()
        #expect(!([0x61, 0xED, 0xA0] as [UInt8]).withUnsafeBytes { v.consume($0) })
        #expect(!v.isComplete)
        #expect(!([0x61] as [UInt8]).withUnsafeBytes { v.consume($0) })
    }
}
