/// Turns the URL path under a file route into a relative file-system path that cannot leave
/// the route's directory, or says why not. Pure; the kernel (openat2 with RESOLVE_BENEATH)
/// enforces the same boundary again when the file is opened, and also refuses symbolic links
/// that lead out.
///
/// Rules: `%XX` escapes are decoded (a `%` without two hex digits is a bad request); a NUL
/// byte, decoded or not, is a bad request; empty and `.` segments are dropped; a `..`
/// segment (also as `%2e%2e`) is refused; segments starting with `.` are refused unless
/// dot-files are served.
enum StaticPath {
    enum Resolution: Equatable {
        /// The relative path is in the first `length` bytes of the output (NUL-terminated
        /// there); empty means the directory itself. `trailingSlash`: the URL named a directory.
        case path(length: Int, trailingSlash: Bool)
        case badRequest
        /// `..`, or a dot-file: answered as not found (nothing outside is confirmed to exist).
        case refused
        /// Longer than the output buffer.
        case tooLong
    }

    static func resolve(_ raw: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>, dotFiles: Bool) -> Resolution {
        var n = 0  // bytes written to `out`
        var segmentStart = 0  // in `out`
        var i = 0
        func endSegment() -> Resolution? {
            let length = n - segmentStart
            if length == 0 { return nil }  // "//"
            if length == 1 && out[segmentStart] == 0x2e {  // "."
                n = segmentStart
                return nil
            }
            if length == 2 && out[segmentStart] == 0x2e && out[segmentStart + 1] == 0x2e { return .refused }
            if !dotFiles && out[segmentStart] == 0x2e { return .refused }
            return nil
        }
        while i < raw.count {
            var c = raw[i]
            if c == 0x25 {  // "%"
                guard i + 2 < raw.count, let hi = PercentDecoding.hexValue(raw[i + 1]), let lo = PercentDecoding.hexValue(raw[i + 2]) else {
                    return .badRequest
                }
                c = hi << 4 | lo
                i += 3
            } else {
                i += 1
            }
            if c == 0 { return .badRequest }
            if c == 0x2f {  // "/" (also a decoded %2F: it separates segments the same way)
                if let r = endSegment() { return r }
                if n > segmentStart {
                    guard n < out.count - 1 else { return .tooLong }
                    out[n] = 0x2f
                    n += 1
                }
                segmentStart = n
                continue
            }
            guard n < out.count - 1 else { return .tooLong }
            out[n] = c
            n += 1
        }
        if let r = endSegment() { return r }
        if n > 0 && out[n - 1] == 0x2f { n -= 1 }  // "a/" → "a"
        out[n] = 0
        let trailingSlash = raw.last == 0x2f || raw.isEmpty
        return .path(length: n, trailingSlash: trailingSlash)
    }
}
