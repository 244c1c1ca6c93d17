/// Checks that text arrives as well-formed UTF-8 (RFC 3629 §4), piece by piece: a text message
/// may be split across frames, and a character across pieces, so the state carries over.
/// Refuses overlong forms, surrogates (U+D800-DFFF) and anything above U+10FFFF, at the first
/// byte that makes the text invalid (RFC 6455 §8.1: fail fast, close with 1007).
///
/// Threading: a value. Cost: ASCII eight bytes per step; other text a compare or two per byte.
public struct UTF8Validator: Sendable, Equatable {
    /// Continuation bytes still due for the current character.
    var pending: UInt8 = 0
    /// The range the next continuation byte must be in (narrower right after some lead bytes).
    var lower: UInt8 = 0x80
    var upper: UInt8 = 0xBF

    public init() {}

    /// Whether the text so far ends on a character boundary (a message must, at its end).
    public var isComplete: Bool { pending == 0 }

    /// Takes the next bytes; false as soon as they cannot be UTF-8 (the validator is then
    /// spent).
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while i < count {
            if pending == 0 {
                // ASCII runs, eight bytes at a time.
                while i + 8 <= count && base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
                guard i < count else { break }
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                switch b {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: pending = 1; lower = 0x80; upper = 0xBF
                case 0xE0: pending = 2; lower = 0xA0; upper = 0xBF  // no overlongs
                case 0xE1...0xEC, 0xEE...0xEF: pending = 2; lower = 0x80; upper = 0xBF
                case 0xED: pending = 2; lower = 0x80; upper = 0x9F  // no surrogates
                case 0xF0: pending = 3; lower = 0x90; upper = 0xBF  // no overlongs
                case 0xF1...0xF3: pending = 3; lower = 0x80; upper = 0xBF
                case 0xF4: pending = 3; lower = 0x80; upper = 0x8F  // nothing past U+10FFFF
                default: return fail()  // 0x80-0xC1 as a lead, 0xF5-0xFF
                }
            } else {
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                guard b >= lower && b <= upper else { return fail() }
                pending -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    mutating func fail() -> Bool {
        pending = 0xFF  // spent: never complete again
        lower = 1
        upper = 0
        return false
    }
}
