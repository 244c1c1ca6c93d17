@_spi(GustInternal) import GustHTTP1
import Testing

/// Every byte value, at every offset within an 8-byte word and near the end of the input, in
/// the places where the parser scans word-at-a-time (the target and field values) or classifies
/// bytes with bit masks (Host): the verdict must match the grammar written out plainly here.
@Suite struct ByteClassSweepTests {
    /// Parses `bytes` in one piece and also byte by byte; both must agree.
    func parse(_ bytes: [UInt8]) -> ParseResult {
        let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: 100)
        defer { table.deallocate() }
        var whole = RequestParser()
        let result = bytes.withUnsafeBytes { whole.parse($0, headers: table, limits: RequestLimits()) }
        var stepwise = RequestParser()
        var last = ParseResult.needMore
        for n in 1...bytes.count {
            last = bytes.withUnsafeBytes { stepwise.parse(UnsafeRawBufferPointer(rebasing: $0[0..<n]), headers: table, limits: RequestLimits()) }
            if last != .needMore { break }
        }
        #expect(last == result, "byte by byte disagrees with whole for \(bytes)")
        return result
    }

    func request(target: [UInt8] = Array("/".utf8), value: [UInt8] = Array("v".utf8), host: [UInt8] = Array("h".utf8)) -> [UInt8] {
        Array("GET ".utf8) + target + Array(" HTTP/1.1\r\nHost: ".utf8) + host + Array("\r\nX-Field: ".utf8) + value
            + Array("\r\n\r\n".utf8)
    }

    @Test func targetBytes() {
        for byte in 0...255 {
            let b = UInt8(byte)
            let allowed = b >= 0x21 && b <= 0x7e
            for offset in 0..<11 {
                let target = Array("/".utf8) + Array(repeating: UInt8(ascii: "a"), count: offset) + [b] + Array("bcdefghij".utf8)
                let result = parse(request(target: target))
                if allowed {
                    guard case .complete = result else {
                        Issue.record("target byte \(b) at \(offset): \(result)")
                        continue
                    }
                } else if b == 0x20 {
                    // A space ends the target early; what follows is not a version.
                    #expect(result == .invalid(.invalidVersion), "target byte \(b) at \(offset)")
                } else {
                    #expect(result == .invalid(.invalidTarget), "target byte \(b) at \(offset): \(result)")
                }
            }
        }
    }

    @Test func fieldValueBytes() {
        for byte in 0...255 {
            let b = UInt8(byte)
            for offset in 0..<11 {
                let value = Array("w".utf8) + Array(repeating: UInt8(ascii: "v"), count: offset) + [b] + Array("xyzxyzxyz".utf8)
                let result = parse(request(value: value))
                switch b {
                case 0x0d:
                    #expect(result == .invalid(.invalidLineEnding), "bare CR in a value at \(offset)")
                case 0x0a:
                    #expect(result == .invalid(.invalidLineEnding), "bare LF in a value at \(offset)")
                case 0x09, 0x20...0x7e, 0x80...0xff:
                    guard case .complete = result else {
                        Issue.record("value byte \(b) at \(offset): \(result)")
                        continue
                    }
                default:
                    #expect(result == .invalid(.invalidHeaderValue), "value byte \(b) at \(offset): \(result)")
                }
            }
        }
    }

    @Test func trailingWhitespaceIsTrimmedWhateverItsLength() {
        let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: 100)
        defer { table.deallocate() }
        for pad in 0..<20 {
            let ws = (0..<pad).map { $0 % 3 == 0 ? UInt8(0x09) : UInt8(0x20) }
            let bytes = request(value: Array("a b".utf8) + ws)
            var parser = RequestParser()
            let result = bytes.withUnsafeBytes { parser.parse($0, headers: table, limits: RequestLimits()) }
            #expect(result == .complete(headLength: bytes.count))
            let slot = table[1]
            let value = bytes[Int(slot.valueOffset)..<Int(slot.valueOffset + slot.valueLength)]
            #expect(String(decoding: value, as: UTF8.self) == "a b", "padding \(pad)")
        }
        // A value of whitespace only is empty.
        var parser = RequestParser()
        let bytes = request(value: [0x20, 0x09, 0x20])
        _ = bytes.withUnsafeBytes { parser.parse($0, headers: table, limits: RequestLimits()) }
        #expect(table[1].valueLength == 0)
    }

    @Test func hostBytes() {
        // RFC 9110 §7.2 / RFC 3986: unreserved, sub-delims, "%", ":" and the IP-literal brackets.
        let allowed = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%:[]".utf8))
        for byte in 0...255 {
            let b = UInt8(byte)
            if b == 0x0d || b == 0x0a || b == 0x09 || b == 0x20 { continue }  // line structure and OWS, tested elsewhere
            let result = parse(request(host: Array("ex".utf8) + [b] + Array("ample".utf8)))
            if allowed.contains(b) {
                guard case .complete = result else {
                    Issue.record("host byte \(b): \(result)")
                    continue
                }
            } else if b < 0x20 || b == 0x7f {
                #expect(result == .invalid(.invalidHeaderValue), "host byte \(b)")
            } else {
                #expect(result == .invalid(.invalidHost), "host byte \(b): \(result)")
            }
        }
    }
}
