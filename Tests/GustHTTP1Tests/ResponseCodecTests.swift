@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
import Testing

@Suite struct ResponseCodecTests {
    func imfDate(_ seconds: Int64) -> String {
        var out = [UInt8](repeating: 0, count: HTTPDate.length)
        out.withUnsafeMutableBufferPointer { HTTPDate.format(epochSeconds: seconds, into: $0.baseAddress!) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func formatsIMFFixdate() {
        #expect(imfDate(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(imfDate(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")  // RFC 9110 §5.6.7's example
        #expect(imfDate(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")  // a 400-year leap day
        #expect(imfDate(4_133_980_799) == "Fri, 31 Dec 2100 23:59:59 GMT")
        #expect(imfDate(4_107_542_399) == "Sun, 28 Feb 2100 23:59:59 GMT")  // 2100 is not a leap year
        #expect(imfDate(1_795_219_200) == "Sat, 21 Nov 2026 00:00:00 GMT")
        #expect(imfDate(-1) == "Wed, 31 Dec 1969 23:59:59 GMT")
    }

    @Test func everyDayOfFourHundredYearsRoundTrips() {
        // Walk day by day from 1970 for 400 years, checking the calendar step by step.
        var (year, month, day, weekday) = (1970, 1, 1, 4)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        func daysIn(_ y: Int, _ m: Int) -> Int {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
            return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        }
        for d in 0..<(146_097) {
            let want = "\(weekdays[weekday]), \(day < 10 ? "0" : "")\(day) \(months[month - 1]) \(year) 12:00:00 GMT"
            let got = imfDate(Int64(d) * 86_400 + 43_200)
            if got != want {
                Issue.record("day \(d): \(got) != \(want)")
                return
            }
            weekday = (weekday + 1) % 7
            day += 1
            if day > daysIn(year, month) {
                day = 1
                month += 1
                if month > 12 {
                    month = 1
                    year += 1
                }
            }
        }
    }

    @Test func dateCacheReformatsOnlyOnANewSecond() {
        var cache = DateCache(epochSeconds: 0)
        #expect(String(decoding: cache.line, as: UTF8.self) == "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n")
        cache.update(epochSeconds: 784_111_777)
        #expect(String(decoding: cache.line, as: UTF8.self) == "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
        #expect(cache.epochSeconds == 784_111_777)
    }

    @Test func statusLines() {
        #expect(String(decoding: HTTPStatus.ok.statusLine, as: UTF8.self) == "HTTP/1.1 200 OK\r\n")
        #expect(HTTPStatus.requestHeaderFieldsTooLarge.code == 431)
        #expect(HTTPStatus.notFound.reason == "Not Found")
        let custom = HTTPStatus(code: 299, reason: "Fine")
        #expect(String(decoding: custom.statusLine, as: UTF8.self) == "HTTP/1.1 299 Fine\r\n")
        #expect(HTTPStatus(code: 299, reason: "Fine").statusLine.baseAddress == custom.statusLine.baseAddress, "interned once")
        #expect(HTTPStatus(code: 404, reason: "Not Found") == .notFound)
        for code in [100, 200, 204, 301, 400, 404, 413, 414, 431, 500, 501, 505] {
            let status = HTTPStatus.predefined(code)!
            #expect(status.code == code)
            #expect(String(decoding: status.statusLine, as: UTF8.self).hasPrefix("HTTP/1.1 \(code) "))
        }
    }
}
