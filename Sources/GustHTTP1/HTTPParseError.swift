/// Why a request was rejected, and the status that says so. The server answers with `status`
/// and closes the connection: after a framing error nothing later on the connection can be trusted.
@_spi(GustInternal) public enum HTTPParseError: UInt8, Error, Sendable, CaseIterable, CustomStringConvertible {
    case invalidMethod
    case invalidTarget
    /// A target form the method may not use (RFC 9112 §3.2): `*` other than with OPTIONS,
    /// authority-form other than with CONNECT.
    case invalidTargetForm
    case invalidVersion
    /// A well-formed version whose major number is not 1.
    case versionNotSupported
    /// Bytes where a line end was required, or a line end that is not CRLF (bare CR or LF).
    case invalidLineEnding
    case invalidHeaderName
    /// Whitespace between a field name and its colon (RFC 9112 §5.1).
    case whitespaceBeforeColon
    /// A field line starting with whitespace: obsolete line folding (RFC 9112 §5.2).
    case obsoleteLineFolding
    /// A control character (other than HTAB) in a field value.
    case invalidHeaderValue
    case requestLineTooLong
    case headerSectionTooLarge
    case tooManyHeaders
    case missingHost
    case duplicateHost
    case invalidHost
    case invalidContentLength
    /// Several `Content-Length` values that differ.
    case conflictingContentLength
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.1: a smuggling vector).
    case contentLengthWithTransferEncoding
    /// `Transfer-Encoding` whose final coding is not `chunked` (RFC 9112 §6.3): the body's
    /// length cannot be known.
    case chunkedNotFinal
    /// A malformed `Transfer-Encoding` list, or `chunked` applied more than once.
    case invalidTransferEncoding
    /// `Transfer-Encoding` in an HTTP/1.0 request: faulty framing (RFC 9112 §6.1).
    case transferEncodingInHTTP10
    /// A transfer coding other than `chunked` (gzip, deflate, ...) that this server does not
    /// decode (RFC 9112 §6.1: 501).
    case unsupportedTransferCoding

    /// The response status for this error.
    public var status: Int {
        switch self {
        case .requestLineTooLong: 414
        case .headerSectionTooLarge, .tooManyHeaders: 431
        case .versionNotSupported: 505
        case .unsupportedTransferCoding: 501
        default: 400
        }
    }

    public var description: String {
        switch self {
        case .invalidMethod: "invalid method"
        case .invalidTarget: "invalid request target"
        case .invalidTargetForm: "request target form not allowed for this method"
        case .invalidVersion: "invalid HTTP version"
        case .versionNotSupported: "HTTP version not supported"
        case .invalidLineEnding: "invalid line ending"
        case .invalidHeaderName: "invalid header field name"
        case .whitespaceBeforeColon: "whitespace between header field name and colon"
        case .obsoleteLineFolding: "obsolete line folding"
        case .invalidHeaderValue: "invalid header field value"
        case .requestLineTooLong: "request line too long"
        case .headerSectionTooLarge: "header section too large"
        case .tooManyHeaders: "too many header fields"
        case .missingHost: "missing Host header"
        case .duplicateHost: "more than one Host header"
        case .invalidHost: "invalid Host header"
        case .invalidContentLength: "invalid Content-Length"
        case .conflictingContentLength: "conflicting Content-Length values"
        case .contentLengthWithTransferEncoding: "both Content-Length and Transfer-Encoding"
        case .chunkedNotFinal: "Transfer-Encoding whose final coding is not chunked"
        case .invalidTransferEncoding: "invalid Transfer-Encoding"
        case .transferEncodingInHTTP10: "Transfer-Encoding in an HTTP/1.0 request"
        case .unsupportedTransferCoding: "unsupported transfer coding"
        }
    }
}
