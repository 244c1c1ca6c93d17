// libFuzzer harness for the request parser and request bodies (built by scripts/fuzz.sh with
// -sanitize=fuzzer,address). Besides "no crash, no sanitizer report", it checks properties:
//
// 1. Resumability: parsing the input whole and parsing it in two pieces (split where the first
//    byte says) give the same verdict, head length and fields.
// 2. Bounds: every recorded offset lies inside the input; names are tokens; values hold no CR/LF.
// 3. Bodies: for a complete head, reading the body in place (whole and in pieces) and streaming
//    it agree on the body bytes, its length, and the verdict.
//
// A broken property is a crash (fatalError), which libFuzzer reports with the input.
@_spi(GustInternal) import GustHTTP1

let limits = RequestLimits(maxRequestLineBytes: 512, maxHeaderBytes: 2048, maxHeaderCount: 16, maxBodyBytes: 4096)

struct Head: Equatable {
    var result: ParseResult
    var method: HTTPMethod
    var target: Range<Int>
    var path: Range<Int>
    var query: Range<Int>?
    var version: HTTPVersion
    var headers: [HeaderSlot]
    var contentLength: Int64
    var keepAlive: Bool
    var framing: BodyFraming
}

func parse(_ input: UnsafeRawBufferPointer, split: Int?) -> (Head?, RequestParser, [HeaderSlot]) {
    var parser = RequestParser()
    let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: limits.maxHeaderCount)
    defer { table.deallocate() }
    var result: ParseResult
    if let split, split < input.count {
        result = parser.parse(UnsafeRawBufferPointer(rebasing: input[..<split]), headers: table, limits: limits)
        if result == .needMore { result = parser.parse(input, headers: table, limits: limits) }
    } else {
        result = parser.parse(input, headers: table, limits: limits)
    }
    let slots = Array(UnsafeBufferPointer(start: table, count: parser.headerCount))
    guard case .complete = result else {
        return (Head(result: result, method: .other, target: 0..<0, path: 0..<0, query: nil, version: .http1_1, headers: [],
                     contentLength: 0, keepAlive: false, framing: .none), parser, slots)
    }
    return (Head(result: result, method: parser.method, target: parser.targetRange, path: parser.pathRange, query: parser.queryRange,
                 version: parser.version, headers: slots, contentLength: parser.contentLength, keepAlive: parser.keepAlive,
                 framing: parser.bodyFraming), parser, slots)
}

func check(_ condition: Bool, _ what: @autoclosure () -> String) {
    if !condition { fatalError("property broken: \(what())") }
}

func isToken(_ c: UInt8) -> Bool {
    switch c {
    case 0x30...0x39, 0x41...0x5a, 0x61...0x7a, 0x21, 0x23...0x27, 0x2a, 0x2b, 0x2d, 0x2e, 0x5e, 0x5f, 0x60, 0x7c, 0x7e: true
    default: false
    }
}

/// Reads the body in place, delivering the input after the head in pieces of `step` bytes.
func bufferedBody(_ parser: RequestParser, _ input: [UInt8], headLength: Int, step: Int) -> (BodyReadResult, [UInt8]) {
    var parser = parser
    var buffer = Array(input[0..<headLength])
    var next = headLength
    while true {
        let r = buffer.withUnsafeMutableBytes { parser.readBody($0, maxBodyBytes: limits.maxBodyBytes) }
        switch r {
        case .complete(let body, _):
            return (r, Array(buffer[body]))
        case .needMore(let keep):
            guard next < input.count else { return (r, []) }
            buffer.removeLast(buffer.count - keep)
            let end = min(input.count, next + step)
            buffer += input[next..<end]
            next = end
        default:
            return (r, [])
        }
    }
}

/// A body result without offsets (they depend on how much framing was dropped on the way).
func verdict(_ r: BodyReadResult) -> String {
    switch r {
    case .complete: "complete"
    case .needMore: "needMore"
    case .tooLarge: "tooLarge"
    case .invalid(let e): "invalid(\(e))"
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let split = Int(data[0])
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    bytes.withUnsafeBytes { input in
        let (whole, parser, slots) = parse(input, split: nil)
        let (pieces, _, _) = parse(input, split: split)
        check(whole == pieces, "whole \(String(describing: whole)) vs split at \(split) \(String(describing: pieces))")
        guard case .complete(let headLength) = whole!.result else { return }
        check(headLength <= input.count, "head longer than the input")
        for slot in slots {
            let nameEnd = Int(slot.nameOffset) + Int(slot.nameLength), valueEnd = Int(slot.valueOffset) + Int(slot.valueLength)
            check(nameEnd <= headLength && valueEnd <= headLength && slot.nameLength > 0, "slot out of bounds")
            check(input[Int(slot.nameOffset)..<nameEnd].allSatisfy(isToken), "name with a non-token byte")
            check(!input[Int(slot.valueOffset)..<valueEnd].contains { $0 == 13 || $0 == 10 || $0 == 0 }, "CR, LF or NUL in a value")
        }
        check(whole!.target.upperBound <= headLength && !input[whole!.target].contains { $0 <= 0x20 || $0 >= 0x7f },
              "target with a control, space or non-ASCII byte")
        if case .chunked = whole!.framing { check(whole!.contentLength < 0 && whole!.version == .http1_1, "chunked framing rules") }

        // Bodies: in place (whole, and 7 bytes at a time) against streamed.
        let (inPlace, body) = bufferedBody(parser, bytes, headLength: headLength, step: bytes.count)
        let (inPlace7, body7) = bufferedBody(parser, bytes, headLength: headLength, step: 7)
        check(verdict(inPlace) == verdict(inPlace7), "in-place body depends on the pieces: \(inPlace) vs \(inPlace7)")
        check(body == body7, "in-place bodies differ")
        var streamer = parser
        var streamed: [UInt8] = []
        let s = UnsafeRawBufferPointer(rebasing: input[headLength...])
        let sr = streamer.streamBody(s, maxBodyBytes: limits.maxBodyBytes) { piece in
            streamed += piece
            return true
        }
        switch (inPlace, sr) {
        case (.complete(let range, let length), .complete(let consumed)):
            check(streamed == body && range.count == body.count, "streamed body differs")
            check(length == headLength + consumed, "request lengths differ: \(length) vs \(headLength) + \(consumed)")
        case (.needMore, .needMore), (.tooLarge, .tooLarge):
            break
        case (.invalid(let a), .invalid(let b)):
            check(a == b, "different chunked errors")
        default:
            check(false, "in place \(inPlace) vs streamed \(sr)")
        }
    }
    return 0
}
