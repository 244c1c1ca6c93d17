/// A close status code (RFC 6455 §7.4).
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let normalClosure = CloseCode(rawValue: 1000)
    public static let goingAway = CloseCode(rawValue: 1001)
    public static let protocolError = CloseCode(rawValue: 1002)
    public static let unsupportedData = CloseCode(rawValue: 1003)
    /// Never sent: "no status code was present".
    public static let noStatusReceived = CloseCode(rawValue: 1005)
    /// Never sent: "closed without a close frame".
    public static let abnormalClosure = CloseCode(rawValue: 1006)
    public static let invalidPayload = CloseCode(rawValue: 1007)
    public static let policyViolation = CloseCode(rawValue: 1008)
    public static let messageTooBig = CloseCode(rawValue: 1009)
    public static let mandatoryExtension = CloseCode(rawValue: 1010)
    public static let internalError = CloseCode(rawValue: 1011)

    /// Whether a peer may send this code in a close frame (§7.4.1, §7.4.2 and the IANA
    /// registry): 1000-1003, 1007-1014, and 3000-4999 (registered and private use). 1004,
    /// 1005, 1006 and 1015 are reserved, and everything below 1000, 1016-2999 and above 4999
    /// is not a code.
    public var isValidOnTheWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    public var description: String { "\(rawValue)" }
}

/// The payload of a close frame (§5.5.1): empty, or a code and an optional UTF-8 reason.
public enum ClosePayload {
    /// The code and reason a close frame carries (nil code: none given), or the code to
    /// close with because the payload itself is invalid (a lone byte, a code that may not be
    /// sent, a reason that is not UTF-8).
    public static func parse(_ payload: UnsafeRawBufferPointer) -> Result<(code: CloseCode?, reason: String), CloseFailure> {
        if payload.isEmpty { return .success((nil, "")) }
        guard payload.count >= 2 else { return .failure(CloseFailure(code: .protocolError, why: "a close payload of one byte")) }
        let code = CloseCode(rawValue: UInt16(payload[0]) << 8 | UInt16(payload[1]))
        guard code.isValidOnTheWire else { return .failure(CloseFailure(code: .protocolError, why: "close code \(code) may not be sent")) }
        let reason = UnsafeRawBufferPointer(rebasing: payload[2...])
        var validator = UTF8Validator()
        guard validator.consume(reason), validator.isComplete else {
            return .failure(CloseFailure(code: .invalidPayload, why: "a close reason that is not UTF-8"))
        }
        return .success((code, String(decoding: reason, as: UTF8.self)))
    }

    /// Writes a close payload (code, then the reason cut to fit 125 bytes on a character
    /// boundary) into `out` (room for 125 bytes); returns its length.
    public static func write(code: CloseCode, reason: String, into out: UnsafeMutableRawBufferPointer) -> Int {
        precondition(out.count >= 125)
        out[0] = UInt8(code.rawValue >> 8)
        out[1] = UInt8(code.rawValue & 0xFF)
        var n = 2
        for scalar in reason.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            guard n + encoded.count <= 125 else { break }
            for byte in encoded {
                out[n] = byte
                n += 1
            }
        }
        return n
    }
}

/// Why a close payload was refused, and the code to close with.
public struct CloseFailure: Error, Sendable, Equatable {
    public let code: CloseCode
    public let why: String
}
