/// Percent-decoding (RFC 3986 §2.1) for paths, parameters and query strings.
enum PercentDecoding {
    @inline(__always) static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    /// Decodes `%XX` escapes (and `+` as a space when `plusIsSpace`, as in query strings).
    /// A `%` not followed by two hex digits is kept as is. Invalid UTF-8 becomes U+FFFD.
    /// Cost: one pass; allocates only when the result is longer than 15 bytes (Swift's small
    /// strings are stored inline).
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, plusIsSpace: Bool) -> String {
        guard bytes.contains(where: { $0 == 0x25 || (plusIsSpace && $0 == 0x2b) }) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        let raw = String(unsafeUninitializedCapacity: bytes.count) { out in
            var i = 0, n = 0
            while i < bytes.count {
                let c = bytes[i]
                if c == 0x25, i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                    out[n] = hi << 4 | lo
                    i += 3
                } else {
                    out[n] = plusIsSpace && c == 0x2b ? 0x20 : c
                    i += 1
                }
                n += 1
            }
            return n
        }
        // String(unsafeUninitializedCapacity:) repairs invalid UTF-8 itself.
        return raw
    }

    /// Whether `raw` percent-decodes (with `+` as space) to exactly `name`'s UTF-8 bytes.
    /// No allocation.
    static func decodedEquals(_ raw: UnsafeBufferPointer<UInt8>, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0, j = 0
        while i < raw.count {
            var c = raw[i]
            if c == 0x25, i + 2 < raw.count, let hi = hexValue(raw[i + 1]), let lo = hexValue(raw[i + 2]) {
                c = hi << 4 | lo
                i += 3
            } else {
                if c == 0x2b { c = 0x20 }
                i += 1
            }
            guard j < name.count, name[j] == c else { return false }
            j += 1
        }
        return j == name.count
    }
}

extension String {
    /// Calls `body` with the string's UTF-8 bytes without copying when the string is native.
    @inline(__always)
    func withUTF8Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = utf8.withContiguousStorageIfAvailable(body) { return r }
        var copy = self
        return copy.withUTF8(body)
    }
}
