@_spi(GustInternal) import GustHTTP1

/// What a vector should parse to.
enum Expected: Sendable {
    case head(Head)
    case error(HTTPParseError)
}

/// The parts of a parsed head a vector checks. `nil` fields are not checked.
struct Head: Sendable, Equatable {
    var method: HTTPMethod = .get
    var methodName: String? = nil
    var target: String = "/"
    var path: String? = nil
    var query: String?? = nil
    var version: HTTPVersion = .http1_1
    var headers: [Pair]? = nil
    var contentLength: Int64 = -1
    var keepAlive = true
    var transferEncoding = false
    var expectContinue = false
    var upgrade = false
    /// Bytes of the head; nil means the whole input.
    var length: Int? = nil
}

struct Pair: Sendable, Equatable, CustomStringConvertible {
    var name: String
    var value: String
    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
    var description: String { "\(name): \(value)" }
}

/// A named parser test vector.
struct Vector: Sendable, CustomStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expected: Expected
    var limits = RequestLimits()

    init(_ name: String, _ text: String, _ expected: Expected, limits: RequestLimits = RequestLimits()) {
        self.name = name
        bytes = Array(text.utf8)
        self.expected = expected
        self.limits = limits
    }

    init(_ name: String, bytes: [UInt8], _ expected: Expected, limits: RequestLimits = RequestLimits()) {
        self.name = name
        self.bytes = bytes
        self.expected = expected
        self.limits = limits
    }

    var description: String { name }
}

/// What the parser actually produced, in the same terms as `Expected`.
enum Outcome: Equatable, CustomStringConvertible {
    case head(Head)
    case error(HTTPParseError)
    case incomplete

    var description: String {
        switch self {
        case .head(let h): "head(\(h))"
        case .error(let e): "error(\(e))"
        case .incomplete: "incomplete"
        }
    }
}

/// A deterministic generator for split points (SplitMix64), so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Harness {
    /// Feeds `bytes` to a parser in chunks of the given sizes, as a connection would: each call
    /// sees everything received so far. With `relocate`, every call gets a fresh copy of the
    /// bytes at a new address (a lease growing or compacting), which must not matter.
    static func run(_ bytes: [UInt8], chunks: [Int], limits: RequestLimits, relocate: Bool = false) -> Outcome {
        var parser = RequestParser()
        let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: limits.maxHeaderCount)
        defer { table.deallocate() }
        var received = 0
        var result = ParseResult.needMore
        for size in chunks {
            received = min(bytes.count, received + size)
            let prefix = Array(bytes[0..<received])
            if relocate {
                let moved = UnsafeMutableRawBufferPointer.allocate(byteCount: max(received, 1), alignment: 1)
                defer { moved.deallocate() }
                moved.copyBytes(from: prefix)
                result = parser.parse(UnsafeRawBufferPointer(rebasing: moved[0..<received]), headers: table, limits: limits)
            } else {
                result = prefix.withUnsafeBytes { parser.parse($0, headers: table, limits: limits) }
            }
            if result != .needMore { break }
        }
        switch result {
        case .needMore: return .incomplete
        case .invalid(let e): return .error(e)
        case .complete(let length):
            func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
            var headers: [Pair] = []
            for i in 0..<parser.headerCount {
                let s = table[i]
                headers.append(
                    Pair(
                        text(Int(s.nameOffset)..<Int(s.nameOffset + s.nameLength)),
                        text(Int(s.valueOffset)..<Int(s.valueOffset + s.valueLength))))
            }
            let query: String? = parser.queryRange.map(text)
            return .head(
                Head(
                    method: parser.method, methodName: text(parser.methodRange), target: text(parser.targetRange),
                    path: text(parser.pathRange), query: .some(query), version: parser.version,
                    headers: headers, contentLength: parser.contentLength, keepAlive: parser.keepAlive,
                    transferEncoding: parser.hasTransferEncoding, expectContinue: parser.expectsContinue,
                    upgrade: parser.hasUpgrade, length: length))
        }
    }

    /// Compares an outcome with a vector's expectation, checking only what the vector specifies.
    static func matches(_ outcome: Outcome, _ v: Vector) -> Bool {
        switch (outcome, v.expected) {
        case (.error(let got), .error(let want)):
            return got == want
        case (.head(let got), .head(let want)):
            return got.method == want.method
                && (want.methodName == nil || got.methodName == want.methodName)
                && got.target == want.target
                && got.path == (want.path ?? String(want.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]))
                && (want.query == nil || got.query == want.query!)
                && got.version == want.version
                && (want.headers == nil || got.headers == want.headers)
                && got.contentLength == want.contentLength
                && got.keepAlive == want.keepAlive
                && got.transferEncoding == want.transferEncoding
                && got.expectContinue == want.expectContinue
                && got.upgrade == want.upgrade
                && got.length == (want.length ?? v.bytes.count)
        default:
            return false
        }
    }

    /// Chunk plans: whole, byte by byte, and seeded random splits.
    static func plans(for count: Int, seeds: ClosedRange<UInt64> = 1...6) -> [(String, [Int])] {
        var plans: [(String, [Int])] = [("whole", [count]), ("byte-by-byte", Array(repeating: 1, count: max(count, 1)))]
        for seed in seeds {
            var rng = SplitMix(state: seed)
            var sizes: [Int] = []
            var left = count
            while left > 0 {
                let n = Int.random(in: 1...max(1, min(left, 17)), using: &rng)
                sizes.append(n)
                left -= n
            }
            plans.append(("random seed \(seed)", sizes.isEmpty ? [0] : sizes))
        }
        return plans
    }
}
