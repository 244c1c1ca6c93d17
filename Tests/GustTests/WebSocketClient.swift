@_spi(GustInternal) import Gust

#if canImport(Glibc)
import Glibc
#endif

/// WebSocket frames over a `TestClient`: what tests send (masked, or not, to break the rules)
/// and what they read back.
extension TestClient {
    /// Upgrades on `path`; returns the `101` (or the refusal).
    @discardableResult
    func upgrade(_ path: String, extra: String = "") throws -> Response {
        try send(
            "GET \(path) HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n")
        return try readResponse(head: true)
    }

    func sendFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, masked: Bool = true) throws {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue]
        let m: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            out.append(m | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out += [m | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(m | 127)
            out += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(payload.count) >> (56 - 8 * $0)) }
        }
        var body = payload
        if masked {
            let key: UInt32 = 0xA1B2_C3D4
            out += [0xA1, 0xB2, 0xC3, 0xD4]
            body.withUnsafeMutableBytes { FrameCodec.applyMask(key, to: $0) }
        }
        try send(out + body)
    }

    func sendText(_ text: String, fin: Bool = true) throws { try sendFrame(.text, Array(text.utf8), fin: fin) }

    /// The next frame from the server: its opcode and payload.
    func readFrame() throws -> (opcode: UInt8, payload: [UInt8]) {
        try fill(2)
        var length = Int(pending[1] & 0x7F)
        var header = 2
        if length == 126 {
            try fill(4)
            length = Int(pending[2]) << 8 | Int(pending[3])
            header = 4
        } else if length == 127 {
            try fill(10)
            length = (2..<10).reduce(0) { $0 << 8 | Int(pending[$1]) }
            header = 10
        }
        try fill(header + length)
        let opcode = pending[0] & 0x0F
        let payload = Array(pending[header..<(header + length)])
        pending.removeFirst(header + length)
        return (opcode, payload)
    }

    /// The next text message (skipping pings).
    func readText() throws -> String {
        while true {
            let (opcode, payload) = try readFrame()
            if opcode == 0x9 { continue }
            guard opcode == 0x1 else { throw Failure(description: "opcode \(opcode), not text: \(payload)") }
            return String(decoding: payload, as: UTF8.self)
        }
    }

    /// Reads until a close frame; its code (nil: none) and reason.
    func readClose() throws -> (code: UInt16?, reason: String) {
        while true {
            let (opcode, payload) = try readFrame()
            guard opcode == 0x8 else { continue }
            guard payload.count >= 2 else { return (nil, "") }
            return (UInt16(payload[0]) << 8 | UInt16(payload[1]), String(decoding: payload[2...], as: UTF8.self))
        }
    }

    func sendClose(_ code: UInt16, _ reason: String = "") throws {
        try sendFrame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }
}
