import Synchronization

/// Byte strings made once at run time and kept for the life of the process: custom status
/// lines, content-type lines. Interning the same text twice returns the same storage, so a
/// program that builds them in a loop still holds each only once.
///
/// Threading: safe from any thread (one lock, taken only when making a value, never per request).
package enum InternedBytes {
    private static let table = Mutex<[String: UnsafePointer<UInt8>]>([:])

    /// Permanent storage holding `text`'s UTF-8 bytes.
    package static func intern(_ text: String) -> UnsafeBufferPointer<UInt8> {
        let bytes = Array(text.utf8)
        let start = table.withLock { table -> UnsafePointer<UInt8> in
            if let existing = table[text] { return existing }
            let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
            storage.initialize(from: bytes, count: bytes.count)
            table[text] = UnsafePointer(storage)
            return UnsafePointer(storage)
        }
        return UnsafeBufferPointer(start: start, count: bytes.count)
    }
}
