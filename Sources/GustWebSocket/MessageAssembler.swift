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
    // Kept small: one lives in every connection's record. Limits come with each call.
    /// Payload bytes of the current frame still to come.
    var frameRemaining: UInt64 = 0
    /// The data message in progress: its length so far.
    var messageLength: UInt64 = 0
    var maskKey: UInt32 = 0
    var utf8 = UTF8Validator()
    /// Whether a data frame is part-way through, and whether it is its message's last.
    var inFrame = false
    var frameFin = false
    /// The mask's phase at the next payload byte (the frame's offset modulo 4).
    var maskPhase: UInt8 = 0
    /// The data message in progress (text or binary), else nil.
    var message: WebSocketOpcode?

    public init() {}

    /// Whether a message or a frame is part-way through (the connection then needs its bytes
    /// kept; an idle one holds none).
    public var isIdle: Bool { !inFrame && message == nil }

    /// The next step from `bytes` (the unread bytes, which it may unmask in place); `consumed`
    /// is set to how many of them it used. Call again with the rest until `.needMore`.
    public mutating func next(_ bytes: UnsafeMutableRawBufferPointer, limits: MessageLimits = MessageLimits(), consumed: inout Int) -> AssemblerStep {
        consumed = 0
        if !inFrame {
            switch FrameCodec.parseClientHeader(UnsafeRawBufferPointer(bytes), limits: limits.frame) {
            case .needMore:
                return .needMore
            case .fail(let code, let why):
                return .fail(code, why)
            case .header(let header, let length):
                if let failure = admit(header, limits) { return failure }
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
                inFrame = true
                frameFin = header.fin
                frameRemaining = header.payloadLength
                maskKey = header.maskKey ?? 0
                maskPhase = 0
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
        FrameCodec.applyMask(maskKey, to: piece, offset: UInt64(maskPhase))
        maskPhase = UInt8((Int(maskPhase) + take) & 3)
        frameRemaining -= UInt64(take)
        consumed = start + take
        return finishPiece(piece)
    }

    /// Checks a data or control frame against the message in progress and the size limit.
    func admit(_ header: FrameHeader, _ limits: MessageLimits) -> AssemblerStep? {
        switch header.opcode {
        case .continuation:
            guard message != nil else { return .fail(.protocolError, "a continuation frame with no message to continue") }
        case .text, .binary:
            guard message == nil else { return .fail(.protocolError, "a new message before the last one ended") }
        case .close, .ping, .pong:
            return nil
        }
        let maxMessage = limits.maxMessage
        let base = header.opcode == .continuation ? messageLength : 0
        guard header.payloadLength <= maxMessage, base <= maxMessage - header.payloadLength else {
            return .fail(.messageTooBig, "a message over \(maxMessage) bytes")
        }
        return nil
    }

    /// Delivers a piece of the current data frame: UTF-8 checked for text, the message ended
    /// with its last frame's last byte.
    mutating func finishPiece(_ piece: UnsafeMutableRawBufferPointer) -> AssemblerStep {
        guard inFrame, let kind = message else { return .needMore }
        messageLength += UInt64(piece.count)
        if kind == .text && !utf8.consume(UnsafeRawBufferPointer(piece)) {
            return .fail(.invalidPayload, "a text message that is not UTF-8")
        }
        let frameDone = frameRemaining == 0
        let last = frameDone && frameFin
        if frameDone { inFrame = false }
        if last {
            if kind == .text && !utf8.isComplete { return .fail(.invalidPayload, "a text message that ends inside a character") }
            message = nil
        }
        return .data(kind, UnsafeRawBufferPointer(piece), last: last)
    }
}

/// The sizes a server accepts from a client.
public struct MessageLimits: Sendable {
    public var frame: FrameLimits
    /// The largest message (all its fragments); past it, 1009.
    public var maxMessage: UInt64

    public init(frame: FrameLimits = FrameLimits(), maxMessage: UInt64 = 1 << 24) {
        self.frame = frame
        self.maxMessage = maxMessage
    }

    public init(maxFrame: Int, maxMessage: Int) {
        self.init(frame: FrameLimits(maxFramePayload: UInt64(maxFrame)), maxMessage: UInt64(maxMessage))
    }
}
