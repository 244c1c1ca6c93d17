/// The server's side of the opening handshake (RFC 6455 §4.2): checks a client's upgrade
/// request and computes what the `101` carries. Pure: header values in, a decision out.
///
/// Threading: pure functions. Cost: a SHA-1 of 60 bytes per accepted handshake.
public enum WebSocketHandshake {
    /// §1.3: appended to the client's key before hashing.
    public static let magic = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// The only version this server speaks (§4.1).
    public static let version = "13"

    /// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (§4.2.2, step 5.4).
    public static func accept(key: String) -> String {
        Base64.encode(SHA1.digest(Array((key + magic).utf8)))
    }

    /// Checks the headers of an upgrade request (each parameter: every value the request has
    /// for that header, in order). Returns the key, or why the request is refused.
    public static func check(
        upgrade: [String], connection: [String], version: [String], key: [String]
    ) -> Result<String, HandshakeFailure> {
        guard hasToken("websocket", in: upgrade) else { return .failure(.notWebSocket) }
        guard hasToken("upgrade", in: connection) else { return .failure(.notWebSocket) }
        guard version.count == 1, version[0].trimmingSpaces == Self.version else { return .failure(.unsupportedVersion) }
        // §4.2.1 item 5: one key, base64 of 16 bytes.
        guard key.count == 1 else { return .failure(.badKey) }
        let k = key[0].trimmingSpaces
        guard let decoded = Base64.decode(k), decoded.count == 16 else { return .failure(.badKey) }
        return .success(k)
    }

    /// The subprotocol to agree to: the first the client offers (`Sec-WebSocket-Protocol`
    /// values, comma-separated lists) that the server supports; nil if none.
    public static func selectSubprotocol(offered: [String], supported: [String]) -> String? {
        guard !supported.isEmpty else { return nil }
        for value in offered {
            for token in value.split(separator: ",") {
                let t = String(token).trimmingSpaces
                if supported.contains(t) { return t }
            }
        }
        return nil
    }

    /// Whether a comma-separated header (all its values) holds `token`, compared without case.
    public static func hasToken(_ token: String, in values: [String]) -> Bool {
        values.contains { value in
            value.split(separator: ",").contains { $0.trimmingSpaces.lowercased() == token }
        }
    }
}

/// Why an upgrade request is refused, and with what status.
public enum HandshakeFailure: Error, Sendable, Equatable {
    /// No `Upgrade: websocket` or no `Connection: upgrade`: 426, naming the protocol.
    case notWebSocket
    /// `Sec-WebSocket-Version` missing, repeated or not 13: 426 with `Sec-WebSocket-Version: 13`
    /// (§4.4).
    case unsupportedVersion
    /// `Sec-WebSocket-Key` missing, repeated, or not base64 of 16 bytes: 400.
    case badKey

    /// The HTTP status code to answer with.
    public var status: Int {
        switch self {
        case .notWebSocket, .unsupportedVersion: 426
        case .badKey: 400
        }
    }

    public var message: String {
        switch self {
        case .notWebSocket: "this resource speaks WebSocket: send Upgrade: websocket and Connection: Upgrade\n"
        case .unsupportedVersion: "WebSocket version 13 only\n"
        case .badKey: "Sec-WebSocket-Key must be one base64 value of 16 bytes\n"
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingSpaces: String {
        let utf8 = Array(self.utf8)
        var start = 0
        var end = utf8.count
        while start < end && (utf8[start] == 0x20 || utf8[start] == 0x09) { start += 1 }
        while end > start && (utf8[end - 1] == 0x20 || utf8[end - 1] == 0x09) { end -= 1 }
        return String(decoding: utf8[start..<end], as: UTF8.self)
    }
}
