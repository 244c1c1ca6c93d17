extension HTTPDate {
    /// Seconds since the epoch for an HTTP-date in any of the three formats a recipient must
    /// accept (RFC 9110 §5.6.7): IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete
    /// RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years 70–99 are 19xx, the rest
    /// 20xx) and asctime ("Sun Nov  6 08:49:37 1994"). nil for anything else, including
    /// impossible dates. Pure; no allocation.
    public static func parse(_ value: UnsafeBufferPointer<UInt8>) -> Int64? {
        var s = Scanner(value)
        // The weekday: letters, then "," (IMF, RFC 850) or " " (asctime).
        guard s.skipLetters(min: 3) else { return nil }
        if s.take(0x2c) {  // ","
            guard s.take(0x20), let day = s.digits(2) else { return nil }
            if s.take(0x20) {  // IMF-fixdate: DD Mon YYYY HH:MM:SS GMT
                guard let month = s.month(), s.take(0x20), let year = s.digits(4), s.take(0x20),
                    let time = s.time(), s.literal(" GMT"), s.atEnd
                else { return nil }
                return epoch(year, month, day, time)
            }
            // RFC 850: DD-Mon-YY HH:MM:SS GMT
            guard s.take(0x2d), let month = s.month(), s.take(0x2d), let yy = s.digits(2), s.take(0x20),
                let time = s.time(), s.literal(" GMT"), s.atEnd
            else { return nil }
            return epoch(yy >= 70 ? 1900 + yy : 2000 + yy, month, day, time)
        }
        // asctime: Mon _D HH:MM:SS YYYY (day padded with a space)
        guard s.take(0x20), let month = s.month(), s.take(0x20) else { return nil }
        let day: Int
        if s.take(0x20) {
            guard let d = s.digits(1) else { return nil }
            day = d
        } else {
            guard let d = s.digits(2) else { return nil }
            day = d
        }
        guard s.take(0x20), let time = s.time(), s.take(0x20), let year = s.digits(4), s.atEnd else { return nil }
        return epoch(year, month, day, time)
    }

    static func epoch(_ year: Int, _ month: Int, _ day: Int, _ time: Int) -> Int64? {
        guard (1...12).contains(month), day >= 1, day <= daysIn(month, year) else { return nil }
        return daysSinceEpoch(year: Int64(year), month: month, day: day) * 86_400 + Int64(time)
    }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (the inverse of `civilDate`).
    static func daysSinceEpoch(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// A cursor over the bytes of a date.
    struct Scanner {
        let p: UnsafeBufferPointer<UInt8>
        var i = 0
        init(_ p: UnsafeBufferPointer<UInt8>) { self.p = p }

        var atEnd: Bool { i == p.count }

        mutating func take(_ c: UInt8) -> Bool {
            guard i < p.count, p[i] == c else { return false }
            i += 1
            return true
        }

        mutating func literal(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard p.count - i >= n else { return false }
            for k in 0..<n where p[i + k] != s.utf8Start[k] { return false }
            i += n
            return true
        }

        mutating func skipLetters(min: Int) -> Bool {
            let start = i
            while i < p.count && (p[i] | 0x20) &- 0x61 < 26 { i += 1 }
            return i - start >= min
        }

        mutating func digits(_ n: Int) -> Int? {
            guard p.count - i >= n else { return nil }
            var v = 0
            for k in 0..<n {
                let d = p[i + k] &- 0x30
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            i += n
            return v
        }

        /// "Jan"..."Dec" (exact case, as the grammar says) → 1...12.
        mutating func month() -> Int? {
            guard p.count - i >= 3 else { return nil }
            let names: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
            for m in 0..<12 {
                let q = names.utf8Start + m * 3
                if p[i] == q[0] && p[i + 1] == q[1] && p[i + 2] == q[2] {
                    i += 3
                    return m + 1
                }
            }
            return nil
        }

        /// "HH:MM:SS" → seconds of the day (a leap second 60 is allowed, as the grammar does).
        mutating func time() -> Int? {
            guard let h = digits(2), take(0x3a), let m = digits(2), take(0x3a), let s = digits(2),
                h < 24, m < 60, s <= 60
            else { return nil }
            return h * 3600 + m * 60 + s
        }
    }
}
