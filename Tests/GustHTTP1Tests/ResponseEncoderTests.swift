@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
import Testing

@Suite struct ResponseEncoderTests {
    static let server: StaticString = "Server: T\r\n"
    static let type: StaticString = "Content-Type: text/plain\r\n"
    static let date: StaticString = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"

    func lines(_ s: StaticString) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }

    /// Encodes into a fresh 8-byte buffer (so growth is exercised) after `prefix` and any
    /// `extra` header lines; returns what follows the prefix.
    func encode(
        _ status: HTTPStatus, body: String, connection: ConnectionDirective = .none, omitBody: Bool = false,
        type: Bool = true, prefix: String = "", extra: String = ""
    ) -> String {
        var buffer = ByteBuffer(capacity: 8)
        Array(prefix.utf8).withUnsafeBytes { buffer.append($0) }
        let start = buffer.writerIndex
        Array(extra.utf8).withUnsafeBytes { buffer.append($0) }
        Array(body.utf8).withUnsafeBytes { body in
            ResponseEncoder.encode(
                into: &buffer, start: start, extraHeaderBytes: extra.utf8.count, status: status,
                serverLine: lines(Self.server), contentTypeLine: type ? lines(Self.type) : nil,
                dateLine: UnsafeRawBufferPointer(lines(Self.date)), connection: connection, body: body,
                omitBody: omitBody)
        }
        let all = String(decoding: buffer.unsafeReadable, as: UTF8.self)
        #expect(all.hasPrefix(prefix))
        return String(all.dropFirst(prefix.count))
    }

    let dateLine = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"

    @Test func plainResponse() {
        #expect(
            encode(.ok, body: "Hello, World!")
                == "HTTP/1.1 200 OK\r\nServer: T\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\(dateLine)\r\nHello, World!")
    }

    @Test func connectionLines() {
        #expect(encode(.ok, body: "", connection: .close, type: false)
            == "HTTP/1.1 200 OK\r\nServer: T\r\nContent-Length: 0\r\n\(dateLine)Connection: close\r\n\r\n")
        #expect(encode(.ok, body: "x", connection: .keepAlive, type: false)
            == "HTTP/1.1 200 OK\r\nServer: T\r\nContent-Length: 1\r\n\(dateLine)Connection: keep-alive\r\n\r\nx")
    }

    @Test func extraHeadersMoveAfterTheFixedLinesAndEarlierResponsesStay() {
        let out = encode(.notFound, body: "no", prefix: "PREVIOUS RESPONSE", extra: "A: 1\r\nLonger-Name: two\r\n")
        #expect(out == "HTTP/1.1 404 Not Found\r\nServer: T\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\(dateLine)A: 1\r\nLonger-Name: two\r\n\r\nno")
    }

    @Test func headKeepsTheLengthButNotTheBody() {
        #expect(encode(.ok, body: "12345", omitBody: true, type: false)
            == "HTTP/1.1 200 OK\r\nServer: T\r\nContent-Length: 5\r\n\(dateLine)\r\n")
    }

    @Test func bodylessStatusesHaveNoLengthAndNoBody() {
        for status in [HTTPStatus.continue, .noContent, .notModified] {
            let out = encode(status, body: "ignored", type: false)
            #expect(out == String(decoding: status.statusLine, as: UTF8.self) + "Server: T\r\n\(dateLine)\r\n")
        }
    }

    @Test func lengthDigits() {
        for n in [0, 9, 10, 99, 100, 12_345, 1_000_000] {
            let out = encode(.ok, body: String(repeating: "b", count: n), type: false)
            #expect(out.contains("Content-Length: \(n)\r\n"))
            #expect(out.hasSuffix("\r\n\r\n" + String(repeating: "b", count: n)))
        }
    }
}

@Suite struct StreamedAndFileHeadTests {
    func head(_ delimiter: BodyDelimiter, contentLength: Int? = nil, status: HTTPStatus = .ok) -> String {
        var buffer = ByteBuffer(capacity: 8)
        let server: StaticString = "Server: T\r\n"
        let date: StaticString = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        ResponseEncoder.encode(
            into: &buffer, start: 0, status: status, serverLine: UnsafeBufferPointer(start: server.utf8Start, count: server.utf8CodeUnitCount),
            contentTypeLine: nil, dateLine: UnsafeRawBufferPointer(start: date.utf8Start, count: date.utf8CodeUnitCount),
            connection: delimiter == .close ? .close : .none, body: UnsafeRawBufferPointer(start: nil, count: 0),
            contentLength: contentLength, delimiter: delimiter)
        return String(decoding: buffer.unsafeReadable, as: UTF8.self)
    }

    @Test func heads() {
        let date = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        #expect(head(.chunked) == "HTTP/1.1 200 OK\r\nServer: T\r\nTransfer-Encoding: chunked\r\n\(date)\r\n")
        #expect(head(.close) == "HTTP/1.1 200 OK\r\nServer: T\r\n\(date)Connection: close\r\n\r\n")
        #expect(head(.length, contentLength: 123_456_789_012) == "HTTP/1.1 200 OK\r\nServer: T\r\nContent-Length: 123456789012\r\n\(date)\r\n")
        #expect(head(.chunked, status: .noContent) == "HTTP/1.1 204 No Content\r\nServer: T\r\n\(date)\r\n")
    }

    @Test func chunks() {
        var buffer = ByteBuffer(capacity: 4)
        for piece in ["", "a", String(repeating: "x", count: 255), String(repeating: "y", count: 4096)] {
            Array(piece.utf8).withUnsafeBytes { ChunkEncoder.appendChunk($0, to: &buffer) }
        }
        Array("X-Sum: 1\r\n".utf8).withUnsafeBytes { ChunkEncoder.appendEnd(trailers: $0, to: &buffer) }
        let text = String(decoding: buffer.unsafeReadable, as: UTF8.self)
        #expect(text == "1\r\na\r\nff\r\n" + String(repeating: "x", count: 255) + "\r\n1000\r\n" + String(repeating: "y", count: 4096)
            + "\r\n0\r\nX-Sum: 1\r\n\r\n")
        // What the encoder writes, the decoder reads back.
        var decoder = ChunkedDecoder()
        var data: [UInt8] = []
        let result = decoder.decode(buffer.unsafeReadable, onData: { data.append(contentsOf: $0) })
        #expect(result == .done(consumed: buffer.readableBytes))
        #expect(data.count == 1 + 255 + 4096)
    }
}
