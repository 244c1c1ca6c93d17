@_spi(GustInternal) import GustHTTP1

/// A response media type, held as its whole precomputed header line
/// ("Content-Type: text/plain\r\n") so writing it is one copy.
public struct ContentType: @unchecked Sendable, CustomStringConvertible {
    @usableFromInline let line: UnsafeBufferPointer<UInt8>

    init(line: StaticString) {
        self.line = UnsafeBufferPointer(start: line.utf8Start, count: line.utf8CodeUnitCount)
    }

    /// Any media type, e.g. `ContentType("image/png")`. The header line is made once per
    /// distinct value and kept; make these once (as statics), not per request.
    public init(_ mediaType: String) {
        precondition(!mediaType.utf8.contains { $0 < 0x20 || $0 == 0x7f }, "control characters in a media type")
        line = InternedBytes.intern("Content-Type: \(mediaType)\r\n")
    }

    /// The media type, e.g. "text/plain".
    public var description: String {
        String(decoding: UnsafeBufferPointer(rebasing: line[14..<(line.count - 2)]), as: UTF8.self)
    }

    public static let plainText = ContentType(line: "Content-Type: text/plain\r\n")
    public static let plainTextUTF8 = ContentType(line: "Content-Type: text/plain; charset=utf-8\r\n")
    public static let html = ContentType(line: "Content-Type: text/html; charset=utf-8\r\n")
    public static let json = ContentType(line: "Content-Type: application/json\r\n")
    public static let octetStream = ContentType(line: "Content-Type: application/octet-stream\r\n")
}
