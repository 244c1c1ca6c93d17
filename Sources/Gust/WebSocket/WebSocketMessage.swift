/// A message as it arrived, lent to `onMessage` for the call only (its bytes live in the
/// reactor's read buffer or the connection's message lease): read it, send it on, publish it,
/// or copy what you keep (`text`, `bytes`, `data`). Borrowing costs nothing; each copy
/// allocates.
///
/// Threading: the connection's reactor thread, during the call.
public struct WebSocketMessage: ~Copyable {
    public enum Kind: Sendable, Equatable {
        case text, binary
    }

    public let kind: Kind
    let payload: UnsafeRawBufferPointer

    init(kind: Kind, payload: UnsafeRawBufferPointer) {
        self.kind = kind
        self.payload = payload
    }

    /// The payload's length in bytes.
    public var count: Int { payload.count }
    /// The payload as a string (text messages are valid UTF-8; binary ones are decoded with
    /// replacement characters). Allocates.
    public var text: String { String(decoding: payload, as: UTF8.self) }
    /// A copy of the payload. Allocates.
    public var bytes: [UInt8] { Array(payload) }
    /// A copy that can be kept and sent across threads.
    public var data: WebSocketData { kind == .text ? .text(text) : .binary(bytes) }
    /// The payload without a copy, for the closure's duration.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(payload) }
}

/// A message owned: what the async tier receives, and what can be sent or published from
/// anywhere.
public enum WebSocketData: Sendable, Equatable {
    case text(String)
    case binary([UInt8])

    var opcode: WebSocketOpcode {
        switch self {
        case .text: .text
        case .binary: .binary
        }
    }

    /// The payload's bytes, for the closure's duration.
    func withPayload<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .text(var s): s.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        case .binary(let b): b.withUnsafeBytes(body)
        }
    }
}
