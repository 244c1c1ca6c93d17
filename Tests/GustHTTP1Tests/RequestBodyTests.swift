@_spi(GustInternal) import GustHTTP1
import Testing

/// A request with a body, and what reading it must give: the body, and how many bytes the
/// request took (the rest is the next request), or the failure.
struct BodyVector: Sendable, CustomStringConvertible {
    enum Want: Sendable, Equatable {
        case body(String, length: Int)
        case tooLarge
        case invalid(ChunkedError)
    }
    let name: String
    let bytes: [UInt8]
    let want: Want
    let maxBody: Int

    init(_ name: String, _ text: String, _ want: Want, maxBody: Int = 1 << 20) {
        self.name = name
        bytes = Array(text.utf8)
        self.want = want
        self.maxBody = maxBody
    }

    var description: String { name }
}

let chunkedHead = "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
let lengthHead = "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"

let bodyVectors: [BodyVector] = [
    BodyVector("no body", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", .body("", length: 27)),
    BodyVector("Content-Length", lengthHead + "hello", .body("hello", length: lengthHead.utf8.count + 5)),
    BodyVector("Content-Length, next request follows", lengthHead + "helloGET / HTTP/1.1\r\n\r\n", .body("hello", length: lengthHead.utf8.count + 5)),
    BodyVector("Content-Length over the limit", lengthHead + "hello", .tooLarge, maxBody: 4),
    BodyVector("Content-Length at the limit", lengthHead + "hello", .body("hello", length: lengthHead.utf8.count + 5), maxBody: 5),
    BodyVector("chunked", chunkedHead + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", .body("hello world", length: chunkedHead.utf8.count + 26)),
    BodyVector("chunked with trailers", chunkedHead + "3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n", .body("abc", length: chunkedHead.utf8.count + 23)),
    BodyVector("chunked, next request follows", chunkedHead + "3\r\nabc\r\n0\r\n\r\nGET /", .body("abc", length: chunkedHead.utf8.count + 13)),
    BodyVector(
        "one-byte chunks", chunkedHead + String(repeating: "1\r\nx\r\n", count: 40) + "0\r\n\r\n",
        .body(String(repeating: "x", count: 40), length: chunkedHead.utf8.count + 240 + 5)),
    BodyVector("chunked, empty", chunkedHead + "0\r\n\r\n", .body("", length: chunkedHead.utf8.count + 5)),
    BodyVector("chunked over the limit", chunkedHead + "5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n", .tooLarge, maxBody: 5),
    BodyVector("chunked over the limit in one chunk", chunkedHead + "A\r\n0123456789\r\n0\r\n\r\n", .tooLarge, maxBody: 9),
    BodyVector("chunked at the limit", chunkedHead + "5\r\nhello\r\n0\r\n\r\n", .body("hello", length: chunkedHead.utf8.count + 15), maxBody: 5),
    BodyVector("bad chunk size", chunkedHead + "5x\r\nhello\r\n0\r\n\r\n", .invalid(.invalidChunkSize)),
    BodyVector("chunk size with a sign", chunkedHead + "-5\r\nhello\r\n0\r\n\r\n", .invalid(.invalidChunkSize)),
    BodyVector("data longer than its size", chunkedHead + "3\r\nhello\r\n0\r\n\r\n", .invalid(.invalidLineEnding)),
    BodyVector("bare LF after the size", chunkedHead + "3\nabc\r\n0\r\n\r\n", .invalid(.invalidLineEnding)),
    BodyVector("bad extension", chunkedHead + "3;=x\r\nabc\r\n0\r\n\r\n", .invalid(.invalidChunkExtension)),
    BodyVector("bad trailer", chunkedHead + "0\r\nbad trailer\r\n\r\n", .invalid(.invalidTrailer)),
]

enum BodyHarness {
    static func parseHead(_ parser: inout RequestParser, _ bytes: [UInt8], _ table: UnsafeMutablePointer<HeaderSlot>) -> Int {
        let result = bytes.withUnsafeBytes { parser.parse($0, headers: table, limits: RequestLimits()) }
        guard case .complete(let head) = result else { fatalError("vector head does not parse: \(result)") }
        return head
    }

    /// Buffered: the request arrives in `chunks`; the buffer keeps what `.needMore(keep:)`
    /// says and appends each new piece, as a connection's input lease does.
    static func buffered(_ v: BodyVector, chunks: [Int]) -> BodyVector.Want? {
        var parser = RequestParser()
        let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: 100)
        defer { table.deallocate() }
        let headLength = parseHead(&parser, v.bytes, table)
        var buffer = Array(v.bytes[0..<headLength])
        var next = headLength
        var sizes = chunks[...]
        while true {
            let result = buffer.withUnsafeMutableBytes { parser.readBody($0, maxBodyBytes: v.maxBody) }
            switch result {
            case .complete(let body, let length):
                return .body(String(decoding: buffer[body], as: UTF8.self), length: length + (next - buffer.count))
            case .tooLarge: return .tooLarge
            case .invalid(let e): return .invalid(e)
            case .needMore(let keep):
                guard next < v.bytes.count else { return nil }
                // Input consumed (framing) is dropped; `next - buffer.count` tracks it for `length`.
                let dropped = buffer.count - keep
                buffer.removeLast(dropped)
                let size = sizes.popFirst() ?? 1
                let end = min(v.bytes.count, next + max(1, size))
                buffer.append(contentsOf: v.bytes[next..<end])
                next = end
            }
        }
    }

    /// Streamed: the bytes after the head arrive in `chunks`; with `pauseEvery`, the consumer
    /// asks to stop after every piece and the caller feeds the rest again.
    static func streamed(_ v: BodyVector, chunks: [Int], pauseEvery: Bool) -> BodyVector.Want? {
        var parser = RequestParser()
        let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: 100)
        defer { table.deallocate() }
        let headLength = parseHead(&parser, v.bytes, table)
        var body: [UInt8] = []
        var offset = headLength
        var pending: [UInt8] = []
        var sizes = chunks[...]
        while true {
            if pending.isEmpty {
                guard offset < v.bytes.count || parser.bodyFraming == .none else { return nil }
                let size = sizes.popFirst() ?? 1
                let end = min(v.bytes.count, offset + max(1, size))
                pending = Array(v.bytes[offset..<end])
                offset = end
            }
            let result = pending.withUnsafeBytes { bytes in
                parser.streamBody(bytes, maxBodyBytes: v.maxBody) { piece in
                    body.append(contentsOf: piece)
                    return !pauseEvery
                }
            }
            switch result {
            case .complete(let consumed):
                let length = offset - pending.count + consumed
                return .body(String(decoding: body, as: UTF8.self), length: length)
            case .needMore: pending = []
            case .paused(let consumed): pending.removeFirst(consumed)
            case .tooLarge: return .tooLarge
            case .invalid(let e): return .invalid(e)
            }
        }
    }

}

@Suite struct RequestBodyTests {
    @Test(arguments: bodyVectors)
    func bufferedInPlace(_ v: BodyVector) {
        for (plan, sizes) in Harness.plans(for: v.bytes.count, seeds: 1...20) {
            #expect(BodyHarness.buffered(v, chunks: sizes) == v.want, "\(plan): \(sizes)")
        }
    }

    @Test(arguments: bodyVectors)
    func streamed(_ v: BodyVector) {
        for (plan, sizes) in Harness.plans(for: v.bytes.count, seeds: 21...40) {
            for pause in [false, true] {
                #expect(BodyHarness.streamed(v, chunks: sizes, pauseEvery: pause) == v.want, "\(plan), pause \(pause): \(sizes)")
            }
        }
    }

    @Test func chunkedFramingCostsNoMemory() {
        // 1,000 one-byte chunks: what `.needMore(keep:)` keeps never exceeds head + body so far.
        var parser = RequestParser()
        let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: 100)
        defer { table.deallocate() }
        let head = Array(chunkedHead.utf8)
        let headLength = BodyHarness.parseHead(&parser, head, table)
        var buffer = head
        for k in 0..<1000 {
            buffer.append(contentsOf: Array("1\r\nz\r\n".utf8))
            let result = buffer.withUnsafeMutableBytes { parser.readBody($0, maxBodyBytes: 1 << 20) }
            guard case .needMore(let keep) = result else { Issue.record("\(result)"); return }
            #expect(keep == headLength + k + 1)
            buffer.removeLast(buffer.count - keep)
        }
        buffer.append(contentsOf: Array("0\r\n\r\n".utf8))
        let done = buffer.withUnsafeMutableBytes { parser.readBody($0, maxBodyBytes: 1 << 20) }
        #expect(done == .complete(body: headLength..<headLength + 1000, length: buffer.count))
        #expect(parser.isBodyComplete)
    }
}
