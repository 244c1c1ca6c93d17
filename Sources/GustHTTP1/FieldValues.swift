/// Field-value grammars that both the request and the response parsers read.
/// Pure; no allocation.
enum FieldValues {
    /// `1*DIGIT` (RFC 9110 §8.6) as a length; nil for an empty value or any non-digit.
    /// Saturates at `Int64.max` past 10^18 (far beyond any body limit).
    static func decimalLength(_ value: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        guard n > 0 else { return nil }
        var length: Int64 = 0
        for k in 0..<n {
            let digit = value[k] &- 0x30
            guard digit < 10 else { return nil }
            length = length > 100_000_000_000_000_000 ? Int64.max : length * 10 + Int64(digit)
        }
        return length
    }

    /// Whether the comma-separated `Connection` options hold `close` and `keep-alive`
    /// (case-insensitive, RFC 9110 §7.6.1).
    static func connectionOptions(_ value: UnsafePointer<UInt8>, _ n: Int) -> (close: Bool, keepAlive: Bool) {
        var close = false
        var keepAlive = false
        var k = 0
        while k < n {
            while k < n && (value[k] == 0x2c || CharacterClass.isWhitespace(value[k])) { k += 1 }
            let start = k
            while k < n && value[k] != 0x2c && !CharacterClass.isWhitespace(value[k]) { k += 1 }
            let length = k - start
            if length == 5 && asciiCaseInsensitiveEqual(value + start, ("close" as StaticString).utf8Start, 5) {
                close = true
            } else if length == 10 && asciiCaseInsensitiveEqual(value + start, ("keep-alive" as StaticString).utf8Start, 10) {
                keepAlive = true
            }
        }
        return (close, keepAlive)
    }
}
