@_spi(GustInternal) import GustCore

/// What a response head says about the connection after it.
@_spi(GustInternal) public enum ConnectionDirective: Sendable {
    /// Nothing: HTTP/1.1 keeps the connection by default.
    case none
    /// `Connection: close`.
    case close
    /// `Connection: keep-alive` (an HTTP/1.0 client that asked for it).
    case keepAlive
    /// `Connection: Upgrade` (a `101 Switching Protocols`).
    case upgrade
}

/// How the receiver learns where a response body ends (RFC 9112 §6.3).
@_spi(GustInternal) public enum BodyDelimiter: Sendable, Equatable {
    /// `Content-Length`.
    case length
    /// `Transfer-Encoding: chunked`; the body follows as chunks (see `ChunkEncoder`).
    case chunked
    /// Neither: the body ends when the connection closes (an HTTP/1.0 client of a stream).
    case close
}

/// Frames chunks of a chunked response body (RFC 9112 §7.1). Pure.
@_spi(GustInternal) public enum ChunkEncoder {
    /// Appends one chunk (hex size, CRLF, data, CRLF); nothing for empty data (an empty chunk
    /// would end the body).
    public static func appendChunk(_ data: UnsafeRawBufferPointer, to buffer: inout ByteBuffer) {
        guard !data.isEmpty else { return }
        buffer.reserveWritable(data.count + 20)
        var digits: (UInt64, UInt64) = (0, 0)  // room for 16 hex digits
        withUnsafeMutableBytes(of: &digits) { out in
            var v = UInt(data.count)
            var k = 16
            repeat {
                k -= 1
                let d = UInt8(v & 15)
                out[k] = d < 10 ? 0x30 + d : 0x57 + d  // lower-case hex
                v >>= 4
            } while v > 0
            buffer.append(UnsafeRawBufferPointer(rebasing: out[k..<16]))
        }
        buffer.append("\r\n")
        buffer.append(data)
        buffer.append("\r\n")
    }

    /// Appends the last chunk and the trailer section (`trailers` are whole "Name: value\r\n"
    /// lines, already checked), ending the body.
    public static func appendEnd(trailers: UnsafeRawBufferPointer? = nil, to buffer: inout ByteBuffer) {
        buffer.append("0\r\n")
        if let trailers { buffer.append(trailers) }
        buffer.append("\r\n")
    }
}

/// Encodes a whole response (head and body) into a byte buffer from precomputed pieces, in the
/// order `status line, Server, Content-Type, Content-Length, Date, Connection, extra headers,
/// blank line, body`.
///
/// Pure: no syscalls, no allocation unless `buffer` must grow (it grows only for a response
/// larger than any before it). Cost: one capacity check, about seven copies and one decimal
/// conversion. Runs on whatever thread owns `buffer`.
@_spi(GustInternal) public enum ResponseEncoder {
    /// Encodes a response that starts at `start` in `buffer`.
    ///
    /// - Parameters:
    ///   - start: where the response begins; `buffer.writerIndex` is set from it.
    ///   - extraHeaderBytes: complete header lines ("Name: value\r\n") already written at `start`;
    ///     they are moved after the fixed lines.
    ///   - serverLine, contentTypeLine, dateLine: whole header lines, CRLF included.
    ///   - body: the body; for 1xx, 204 and 304 it is ignored and no `Content-Length` is sent
    ///     (RFC 9110 §8.6).
    ///   - omitBody: send `Content-Length` but not the body (a response to HEAD).
    ///   - contentLength: the body's length when the body is not in `body` but sent after the
    ///     head by other means (a file with `sendfile`); `body` is then ignored.
    ///   - delimiter: `.chunked` writes `Transfer-Encoding: chunked` instead of `Content-Length`,
    ///     `.close` neither (the body ends with the connection); `body` is then ignored.
    public static func encode(
        into buffer: inout ByteBuffer, start: Int, extraHeaderBytes: Int = 0,
        status: HTTPStatus, serverLine: UnsafeBufferPointer<UInt8>, contentTypeLine: UnsafeBufferPointer<UInt8>?,
        dateLine: UnsafeRawBufferPointer, connection: ConnectionDirective,
        body: UnsafeRawBufferPointer, omitBody: Bool = false, contentLength: Int? = nil, delimiter: BodyDelimiter = .length
    ) {
        let bodyless = status.code < 200 || status.code == 204 || status.code == 304
        let connectionLine: StaticString? =
            switch connection {
            case .none: nil
            case .close: "Connection: close\r\n"
            case .keepAlive: "Connection: keep-alive\r\n"
            case .upgrade: "Connection: Upgrade\r\n"
            }
        let lengthLine: StaticString = "Content-Length: "
        let statusLine = status.statusLine
        var prefix = statusLine.count + serverLine.count + dateLine.count
        if let contentTypeLine { prefix += contentTypeLine.count }
        let declared = contentLength ?? body.count
        let chunkedLine: StaticString = "Transfer-Encoding: chunked\r\n"
        if !bodyless {
            switch delimiter {
            case .length: prefix += lengthLine.utf8CodeUnitCount + decimalDigits(declared) + 2
            case .chunked: prefix += chunkedLine.utf8CodeUnitCount
            case .close: break
            }
        }
        if let connectionLine { prefix += connectionLine.utf8CodeUnitCount }
        let sentBody = bodyless || omitBody || contentLength != nil || delimiter != .length ? 0 : body.count

        buffer.writerIndex = start + extraHeaderBytes
        buffer.reserveWritable(prefix + 2 + sentBody)
        if extraHeaderBytes > 0 {
            let base = buffer.unsafeBase + start
            (base + prefix).copyMemory(from: base, byteCount: extraHeaderBytes)  // memmove
        }
        buffer.writerIndex = start
        buffer.append(UnsafeRawBufferPointer(statusLine))
        buffer.append(UnsafeRawBufferPointer(serverLine))
        if let contentTypeLine { buffer.append(UnsafeRawBufferPointer(contentTypeLine)) }
        if !bodyless {
            switch delimiter {
            case .length:
                buffer.append(lengthLine)
                buffer.appendDecimal(declared)
                buffer.append("\r\n")
            case .chunked:
                buffer.append(chunkedLine)
            case .close:
                break
            }
        }
        buffer.append(dateLine)
        if let connectionLine { buffer.append(connectionLine) }
        buffer.writerIndex += extraHeaderBytes
        buffer.append("\r\n")
        if sentBody > 0 { buffer.append(body) }
    }

    /// Decimal digits of a non-negative `n`.
    @inline(__always) static func decimalDigits(_ n: Int) -> Int {
        var digits = 1
        var v = n
        while v >= 10 {
            v /= 10
            digits += 1
        }
        return digits
    }
}
