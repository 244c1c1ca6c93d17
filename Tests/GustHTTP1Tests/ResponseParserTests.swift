@_spi(GustInternal) import GustHTTP1
import Testing

struct ResponseVector: Sendable, CustomStringConvertible {
    let name: String
    let text: String
    let expected: Expected
    enum Expected: Sendable, Equatable {
        case head(status: Int, framing: BodyFraming, keepAlive: Bool)
        case error(ResponseParseError)
    }
    init(_ name: String, _ text: String, _ expected: Expected) {
        self.name = name
        self.text = text
        self.expected = expected
    }
    var description: String { name }
}

let responseVectors: [ResponseVector] = [
    .init("plain 200", "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n", .head(status: 200, framing: .length(13), keepAlive: true)),
    .init("gust's own", "HTTP/1.1 200 OK\r\nServer: Gust\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
          .head(status: 200, framing: .length(13), keepAlive: true)),
    .init("empty reason", "HTTP/1.1 204 \r\n\r\n", .head(status: 204, framing: .none, keepAlive: true)),
    .init("no reason, no space", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", .head(status: 200, framing: .length(0), keepAlive: true)),
    .init("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .head(status: 200, framing: .chunked, keepAlive: true)),
    .init("gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .head(status: 200, framing: .chunked, keepAlive: true)),
    .init("chunked then gzip reads to close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
          .head(status: 200, framing: .untilClose, keepAlive: true)),
    .init("no length reads to close", "HTTP/1.0 200 OK\r\n\r\n", .head(status: 200, framing: .untilClose, keepAlive: false)),
    .init("1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n",
          .head(status: 200, framing: .length(2), keepAlive: true)),
    .init("close", "HTTP/1.1 400 Bad Request\r\nconnection: upgrade, CLOSE\r\nContent-Length: 2\r\n\r\n",
          .head(status: 400, framing: .length(2), keepAlive: false)),
    .init("304 has no body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", .head(status: 304, framing: .none, keepAlive: true)),
    .init("100 continue", "HTTP/1.1 100 Continue\r\n\r\n", .head(status: 100, framing: .none, keepAlive: true)),
    .init("obs-text and tab in values", "HTTP/1.1 200 \u{e9}t\u{e9}\r\nX: a\tb \r\nContent-Length: 1\r\n\r\n",
          .head(status: 200, framing: .length(1), keepAlive: true)),
    .init("repeated equal lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
          .head(status: 200, framing: .length(3), keepAlive: true)),
    .init("HTTP/2", "HTTP/2 200 OK\r\n\r\n", .error(.invalidVersion)),
    .init("garbage", "<html>hello</html>\r\n\r\n", .error(.invalidVersion)),
    .init("lower-case version", "http/1.1 200 OK\r\n\r\n", .error(.invalidVersion)),
    .init("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", .error(.invalidStatus)),
    .init("status 099", "HTTP/1.1 099 OK\r\n\r\n", .error(.invalidStatus)),
    .init("bare LF after status", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", .error(.invalidLineEnding)),
    .init("bare LF after field", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", .error(.invalidLineEnding)),
    .init("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", .error(.invalidHeaderName)),
    .init("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", .error(.invalidHeaderName)),
    .init("control in value", "HTTP/1.1 200 OK\r\nX: a\u{1}b\r\n\r\n", .error(.invalidHeaderValue)),
    .init("negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .error(.invalidContentLength)),
    .init("differing lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", .error(.invalidContentLength)),
    .init("empty length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", .error(.invalidContentLength)),
]

@Suite struct ResponseParserTests {
    /// Feeds `bytes` in the given chunks, calling parse on each growing prefix as a client does.
    func run(_ bytes: [UInt8], chunks: [Int], maxHead: Int = 64 * 1024) -> (ResponseParseResult, ResponseParser) {
        var parser = ResponseParser(maxHeadBytes: maxHead)
        var received = 0
        var result = ResponseParseResult.needMore
        for size in chunks {
            received = min(bytes.count, received + size)
            result = Array(bytes[0..<received]).withUnsafeBytes { parser.parse($0) }
            if result != .needMore { break }
        }
        return (result, parser)
    }

    @Test(arguments: responseVectors)
    func vector(_ v: ResponseVector) {
        let bytes = Array(v.text.utf8)
        for (plan, chunks) in Harness.plans(for: bytes.count) {
            let (result, parser) = run(bytes, chunks: chunks)
            switch v.expected {
            case .head(let status, let framing, let keepAlive):
                #expect(result == .complete(headLength: bytes.count), "\(v.name) [\(plan)]: \(result)")
                #expect(parser.status == status, "\(v.name) [\(plan)]")
                #expect(parser.framing(requestWasHead: false) == framing, "\(v.name) [\(plan)]")
                #expect(parser.keepAlive == keepAlive, "\(v.name) [\(plan)]")
            case .error(let e):
                #expect(result == .invalid(e), "\(v.name) [\(plan)]: \(result)")
            }
        }
    }

    @Test func headRequestsHaveNoBody() {
        let (_, parser) = run(Array("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n".utf8), chunks: [100])
        #expect(parser.framing(requestWasHead: true) == .none)
    }

    @Test func bodyBytesAfterTheHeadAreLeftAlone() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/"
        let (result, _) = run(Array(text.utf8), chunks: [text.utf8.count])
        #expect(result == .complete(headLength: text.utf8.count - 5))
    }

    @Test func headSizeIsBounded() {
        let text = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 300) + "\r\n\r\n"
        let (result, _) = run(Array(text.utf8), chunks: [text.utf8.count], maxHead: 256)
        #expect(result == .invalid(.headTooLarge))
        let (partial, _) = run(Array(text.utf8.prefix(200)), chunks: [200], maxHead: 256)
        #expect(partial == .needMore)
    }
}

@Suite struct ChunkedDecoderTests {
    /// Decodes `bytes` in the given chunks; returns the data, how many bytes the body took, and
    /// the error if any.
    func decode(_ bytes: [UInt8], chunks: [Int]) -> (data: [UInt8], consumed: Int?, error: ChunkedError?) {
        var decoder = ChunkedDecoder(maxExtensionBytes: 16, maxTrailerBytes: 64)
        var data: [UInt8] = []
        var offset = 0
        for size in chunks {
            let piece = Array(bytes[offset..<min(bytes.count, offset + size)])
            let result = piece.withUnsafeBytes { decoder.decode($0) { data.append(contentsOf: $0) } }
            switch result {
            case .needMore: break
            case .done(let consumed): return (data, offset + consumed, nil)
            case .invalid(let e): return (data, nil, e)
            case .paused: Issue.record("a decode without `until` paused"); return (data, nil, nil)
            }
            offset += piece.count
            if offset >= bytes.count { break }
        }
        return (data, nil, nil)
    }

    static let valid: [(String, String, String)] = [
        ("one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"),
        ("two chunks, upper-case hex", "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", "abc0123456789"),
        ("leading zeros", "0003\r\nxyz\r\n000\r\n\r\n", "xyz"),
        ("extensions", "3;name=value;flag\r\nabc\r\n0;last\r\n\r\n", "abc"),
        ("extension with BWS", "3 ; n = v\t;f\r\nabc\r\n0\r\n\r\n", "abc"),
        ("quoted extension value", "3;n=\"a b;c=\\\"d\\\"\"\r\nabc\r\n0\r\n\r\n", "abc"),
        ("quoted value then another", "3;n=\"x\";m=y\r\nabc\r\n0\r\n\r\n", "abc"),
        ("trailers", "3\r\nabc\r\n0\r\nChecksum: 1234\r\nX-Other:v\r\n\r\n", "abc"),
        ("data holds CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"),
        ("empty body", "0\r\n\r\n", ""),
    ]

    static let invalid: [(String, String, ChunkedError)] = [
        ("no size", "\r\nabc\r\n0\r\n\r\n", .invalidChunkSize),
        ("sign", "+3\r\nabc\r\n0\r\n\r\n", .invalidChunkSize),
        ("not hex", "3g\r\nabc\r\n0\r\n\r\n", .invalidChunkSize),
        ("size overflow", "1000000000000000\r\n", .invalidChunkSize),
        ("bare LF after size", "3\nabc\r\n0\r\n\r\n", .invalidLineEnding),
        ("missing CRLF after data", "3\r\nabcd\r\n0\r\n\r\n", .invalidLineEnding),
        ("bare LF after data", "3\r\nabc\n0\r\n\r\n", .invalidLineEnding),
        ("control in extension", "3;a\u{1}\r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("whitespace after size", "3 \r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("extension without name", "3;\r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("extension name not a token", "3;a@b\r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("extension without value", "3;a=\r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("extension value not a token", "3;a=b/c\r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("two extension values", "3;a=b c\r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("unterminated quoted value", "3;a=\"bc\r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("text after quoted value", "3;a=\"b\"c\r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("trailing whitespace after extension", "3;a=b \r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("bare LF in extension", "3;a\nabc\r\n0\r\n\r\n", .invalidLineEnding),
        ("extension too long", "3;" + String(repeating: "e", count: 40) + "\r\nabc\r\n0\r\n\r\n", .invalidChunkExtension),
        ("trailer without colon", "0\r\nnocolon\r\n\r\n", .invalidTrailer),
        ("trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n", .invalidTrailer),
        ("trailers too large", "0\r\nX: " + String(repeating: "t", count: 80) + "\r\n\r\n", .invalidTrailer),
        ("bare LF ending", "0\r\n\n", .invalidLineEnding),
    ]

    @Test func validBodies() {
        for (name, text, data) in Self.valid {
            let bytes = Array((text + "NEXT").utf8)
            for (plan, chunks) in Harness.plans(for: bytes.count) {
                let out = decode(bytes, chunks: chunks)
                #expect(out.error == nil, "\(name) [\(plan)]: \(String(describing: out.error))")
                #expect(out.data == Array(data.utf8), "\(name) [\(plan)]")
                #expect(out.consumed == text.utf8.count, "\(name) [\(plan)]: the body ends before NEXT")
            }
        }
    }

    @Test func invalidBodies() {
        for (name, text, error) in Self.invalid {
            let bytes = Array(text.utf8)
            for (plan, chunks) in Harness.plans(for: bytes.count) {
                let out = decode(bytes, chunks: chunks)
                #expect(out.error == error, "\(name) [\(plan)]: got \(String(describing: out.error))")
            }
        }
    }

    @Test func anErrorSticks() {
        var decoder = ChunkedDecoder()
        let bad = Array("z\r\n".utf8)
        #expect(bad.withUnsafeBytes { decoder.decode($0) } == .invalid(.invalidChunkSize))
        let good = Array("0\r\n\r\n".utf8)
        #expect(good.withUnsafeBytes { decoder.decode($0) } == .invalid(.invalidChunkSize))
    }
}
