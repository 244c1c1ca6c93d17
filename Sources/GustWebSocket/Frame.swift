/// RFC 6455 §5.2 frame opcodes.
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Close, ping and pong (§5.5): at most 125 bytes of payload, never fragmented.
    @inlinable public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// A frame's header as it arrived: everything before the payload.
public struct FrameHeader: Sendable, Equatable {
    public var fin: Bool
    /// RSV1-3 (must be 0 without a negotiated extension).
    public var reserved: UInt8
    public var opcode: WebSocketOpcode
    /// The masking key (§5.3), if the frame is masked (every client frame must be).
    public var maskKey: UInt32?
    public var payloadLength: UInt64

    public init(fin: Bool, reserved: UInt8 = 0, opcode: WebSocketOpcode, maskKey: UInt32? = nil, payloadLength: UInt64) {
        self.fin = fin
        self.reserved = reserved
        self.opcode = opcode
        self.maskKey = maskKey
        self.payloadLength = payloadLength
    }
}

/// What a server accepts in a frame from a client.
public struct FrameLimits: Sendable {
    /// The largest payload of one frame; past it, close with 1009.
    public var maxFramePayload: UInt64
    public init(maxFramePayload: UInt64 = 1 << 20) { self.maxFramePayload = maxFramePayload }
}

/// The outcome of reading a frame header.
public enum FrameHeaderParse: Sendable, Equatable {
    /// At least this many bytes are needed in all to read the header.
    case needMore(Int)
    /// The header, and how many bytes it took; the payload follows.
    case header(FrameHeader, length: Int)
    /// The frame breaks the protocol: close the connection with this code.
    case fail(CloseCode, String)
}

/// Reads and writes frame headers (RFC 6455 §5.2). Pure: bytes in, values out; no allocation.
///
/// Threading: stateless. Cost: a few byte loads and compares per frame.
public enum FrameCodec {
    /// Reads the header of a frame a client sent (`bytes` starts at the frame), checking what
    /// §5 requires of it: masked (§5.1), no reserved bits (§5.2), a known opcode, control frames
    /// whole and at most 125 bytes (§5.5), a 64-bit length with its top bit clear, and the
    /// payload within `limits`.
    public static func parseClientHeader(_ bytes: UnsafeRawBufferPointer, limits: FrameLimits) -> FrameHeaderParse {
        guard bytes.count >= 2 else { return .needMore(2) }
        let b0 = bytes[0]
        let b1 = bytes[1]
        let fin = b0 & 0x80 != 0
        let reserved = (b0 >> 4) & 0x7
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else {
            return .fail(.protocolError, "reserved opcode \(b0 & 0x0F)")
        }
        guard reserved == 0 else { return .fail(.protocolError, "reserved bits set without an extension") }
        guard b1 & 0x80 != 0 else { return .fail(.protocolError, "a client frame must be masked") }
        let short = UInt64(b1 & 0x7F)
        var length = 2
        var payload = short
        if short == 126 {
            length = 4
            guard bytes.count >= length else { return .needMore(length + 4) }
            payload = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
        } else if short == 127 {
            length = 10
            guard bytes.count >= length else { return .needMore(length + 4) }
            payload = (2..<10).reduce(0) { $0 << 8 | UInt64(bytes[$1]) }
            guard payload >> 63 == 0 else { return .fail(.protocolError, "payload length with its top bit set") }
        }
        if opcode.isControl {
            guard fin else { return .fail(.protocolError, "a fragmented control frame") }
            guard payload <= 125 else { return .fail(.protocolError, "a control frame over 125 bytes") }
        }
        guard payload <= limits.maxFramePayload else {
            return .fail(.messageTooBig, "a frame of \(payload) bytes (limit \(limits.maxFramePayload))")
        }
        guard bytes.count >= length + 4 else { return .needMore(length + 4) }
        let key = UInt32(bytes[length]) << 24 | UInt32(bytes[length + 1]) << 16 | UInt32(bytes[length + 2]) << 8 | UInt32(bytes[length + 3])
        return .header(FrameHeader(fin: fin, opcode: opcode, maskKey: key, payloadLength: payload), length: length + 4)
    }

    /// The largest header a server writes (a 64-bit length, no mask).
    public static let maxServerHeaderLength = 10

    /// Writes the header of an unmasked (server) frame into `out` (room for
    /// `maxServerHeaderLength` bytes); returns its length. Lengths use the shortest form.
    @inlinable
    public static func writeServerHeader(fin: Bool, opcode: WebSocketOpcode, payloadLength: Int, into out: UnsafeMutableRawPointer) -> Int {
        precondition(payloadLength >= 0)
        out.storeBytes(of: (fin ? 0x80 : 0) | opcode.rawValue, as: UInt8.self)
        if payloadLength < 126 {
            out.storeBytes(of: UInt8(payloadLength), toByteOffset: 1, as: UInt8.self)
            return 2
        }
        if payloadLength <= 0xFFFF {
            out.storeBytes(of: 126, toByteOffset: 1, as: UInt8.self)
            out.storeBytes(of: UInt16(payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            return 4
        }
        out.storeBytes(of: 127, toByteOffset: 1, as: UInt8.self)
        out.storeBytes(of: UInt64(payloadLength).bigEndian, toByteOffset: 2, as: UInt64.self)
        return 10
    }

    /// Unmasks (or masks: the same operation, §5.3) `payload` in place with `key`, the payload
    /// starting `offset` bytes into the frame's payload (for a payload that arrives in pieces).
    /// Cost: 8 bytes per step after the first few.
    public static func applyMask(_ key: UInt32, to payload: UnsafeMutableRawBufferPointer, offset: UInt64 = 0) {
        guard let base = payload.baseAddress, payload.count > 0 else { return }
        let start = Int(offset & 3)
        /// The key byte that masks payload byte `i` of this piece.
        @inline(__always) func keyByte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: key >> (24 - 8 * ((start + i) & 3))) }
        // Eight bytes at a time: every 8-byte step starts at the same key phase.
        var word: UInt64 = 0
        withUnsafeMutableBytes(of: &word) { w in
            for k in 0..<8 { w[k] = keyByte(k) }
        }
        let count = payload.count
        var i = 0
        while i + 8 <= count {
            base.storeBytes(of: base.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ word, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < count {
            base.storeBytes(of: base.load(fromByteOffset: i, as: UInt8.self) ^ keyByte(i), toByteOffset: i, as: UInt8.self)
            i += 1
        }
    }
}
