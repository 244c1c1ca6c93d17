/// What the assembler found next in the bytes.
public enum AssemblerStep {
    /// Nothing more to deliver until more bytes arrive (`consumed` of them were used).
    case needMore
    /// A piece of a data message, unmasked in place (valid until the bytes are reused);
    /// `last`: the message ends with it. A message may come in any number of pieces.
    case data(WebSocketOpcode, UnsafeRawBufferPointer, last: Bool)
    /// A whole control frame (ping, pong or close), unmasked in place; it may arrive between
    /// the frames of a fragmented message (§5.4).
    case control(WebSocketOpcode, UnsafeRawBufferPointer)
    /// The peer broke the protocol: close with this code (and stop reading).
    case fail(CloseCode, String)
}

/// Turns the bytes a client sends into messages and control frames (RFC 6455 §5.4-§5.6): reads
/// frame headers (`FrameCodec`), unmasks payloads in place, joins fragments, lets control
/// frames through in between, checks text is UTF-8 across fragments (failing at the first bad
/// byte, §8.1), and holds messages to a size limit. It keeps no bytes: data is handed over as it
/// arrives (a piece may be part of a frame); only a control frame, at most 125 bytes, is waited
/// for whole. Pure: no allocation, no clock.
///
/// Threading: a value inside a connection's record, used by its reactor only. Cost per frame:
/// the header, the unmasking (8 bytes per step) and, for text, the validation.
public struct MessageAssembler: Sendable {
    public var limits: FrameLimits
    /// The largest message (all its fragments); past it, 1009.
    public var maxMessage: UInt64

    /// The frame being read: its header, and how much of its payload is still to come.
    var frame: FrameHeader?
    var frameRemaining: UInt64 = 0
    var frameOffset: UInt64 = 0
    /// The data message in progress (text or binary), and its length so far.
    var message: WebSocketOpcode?
    var messageLength: UInt64 = 0
    var utf8 = UTF8Validator()

    public init(limits: FrameLimits = FrameLimits(), maxMessage: UInt64 = 1 << 24) {
        self.limits = limits
        self.maxMessage = maxMessage
    }

    /// Whether a message or a frame is part-way through (the connection then needs its bytes
    /// kept; an idle one holds none).
    public var isIdle: Bool { frame == nil && message == nil }

    /// The next step from `bytes` (the unread bytes, which it may unmask in place); `consumed`
    /// is set to how many of them it used. Call again with the rest until `.needMore`.
    public mutating func next(_ bytes: UnsafeMutableRawBufferPointer, consumed: inout Int) -> AssemblerStep {
        consumed = 0
        if frame == nil {
            switch FrameCodec.parseClientHeader(UnsafeRawBufferPointer(bytes), limits: limits) {
            case .needMore:
                return .needMore
            case .fail(let code, let why):
                return .fail(code, why)
            case .header(let header, let length):
                if let failure = admit(header) { return failure }
                if header.opcode.isControl {
                    // Whole or not at all: at most 125 bytes.
                    guard bytes.count - length >= Int(header.payloadLength) else { return .needMore }
                    let payload = UnsafeMutableRawBufferPointer(rebasing: bytes[length..<(length + Int(header.payloadLength))])
                    FrameCodec.applyMask(header.maskKey ?? 0, to: payload)
                    consumed = length + payload.count
                    if header.opcode == .close, case .failure(let f) = ClosePayload.parse(UnsafeRawBufferPointer(payload)) {
                        return .fail(f.code, f.why)
                    }
                    return .control(header.opcode, UnsafeRawBufferPointer(payload))
                }
                consumed = length
                frame = header
                frameRemaining = header.payloadLength
                frameOffset = 0
                if header.opcode != .continuation {
                    message = header.opcode
                    messageLength = 0
                    utf8 = UTF8Validator()
                }
                if frameRemaining == 0 { return finishPiece(UnsafeMutableRawBufferPointer(rebasing: bytes[length..<length])) }
            }
        }
        let start = consumed
        let available = bytes.count - start
        guard available > 0 else { return .needMore }
        let take = Int(min(UInt64(available), frameRemaining))
        let piece = UnsafeMutableRawBufferPointer(rebasing: bytes[start..<(start + take)])
        FrameCodec.applyMask(frame?.maskKey ?? 0, to: piece, offset: frameOffset)
        frameOffset += UInt64(take)
        frameRemaining -= UInt64(take)
        consumed = start + take
        return finishPiece(piece)
    }

    /// Checks a data or control frame against the message in progress and the size limit.
    mutating func admit(_ header: FrameHeader) -> AssemblerStep? {
        switch header.opcode {
        case .continuation:
            guard message != nil else { return .fail(.protocolError, "a continuation frame with no message to continue") }
        case .text, .binary:
            guard message == nil else { return .fail(.protocolError, "a new message before the last one ended") }
        case .close, .ping, .pong:
            return nil
        }
        let base = header.opcode == .continuation ? messageLength : 0
        guard header.payloadLength <= maxMessage, base <= maxMessage - header.payloadLength else {
            return .fail(.messageTooBig, "a message over \(maxMessage) bytes")
        }
        return nil
    }

    /// Delivers a piece of the current data frame: UTF-8 checked for text, the message ended
    /// with its last frame's last byte.
    mutating func finishPiece(_ piece: UnsafeMutableRawBufferPointer) -> AssemblerStep {
        guard let header = frame, let kind = message else { return .needMore }
        messageLength += UInt64(piece.count)
        if kind == .text && !utf8.consume(UnsafeRawBufferPointer(piece)) {
            return .fail(.invalidPayload, "a text message that is not UTF-8")
        }
        let frameDone = frameRemaining == 0
        let last = frameDone && header.fin
        if frameDone { frame = nil }
        if last {
            if kind == .text && !utf8.isComplete { return .fail(.invalidPayload, "a text message that ends inside a character") }
            message = nil
        }
        return .data(kind, UnsafeRawBufferPointer(piece), last: last)
    }
}
