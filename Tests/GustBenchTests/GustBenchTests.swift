import GustBench
import Testing

@Suite struct OpenLoopScheduleTests {
    @Test func requestsAreEvenlySpacedRoundRobin() {
        let s = OpenLoopSchedule(rate: 1000, connections: 4, start: 1_000)
        // One request every millisecond overall, connection by connection.
        #expect(s.intendedTime(connection: 0, request: 0) == 1_000)
        #expect(s.intendedTime(connection: 1, request: 0) == 1_001_000)
        #expect(s.intendedTime(connection: 3, request: 0) == 3_001_000)
        #expect(s.intendedTime(connection: 0, request: 1) == 4_001_000)
        #expect(s.intervalPerConnection == 4_000_000)
        var all: [Int64] = []
        for n in 0..<50 { for c in 0..<4 { all.append(s.intendedTime(connection: c, request: Int64(n))) } }
        #expect(all == all.sorted())
        #expect(zip(all, all.dropFirst()).allSatisfy { $1 - $0 == 1_000_000 })
    }

    @Test func noDriftOverALongRun() {
        // 3 per second does not divide a second evenly: times are computed, not accumulated.
        let s = OpenLoopSchedule(rate: 3, connections: 1, start: 0)
        #expect(s.intendedTime(connection: 0, request: 3) == 1_000_000_000)
        #expect(s.intendedTime(connection: 0, request: 3 * 86_400) == 86_400 * 1_000_000_000)
        #expect(s.intendedTime(connection: 0, request: 1) == 333_333_333)
        // 50,000/s for an hour over 10,000 connections stays exact.
        let big = OpenLoopSchedule(rate: 50_000, connections: 10_000, start: 0)
        #expect(big.intendedTime(connection: 9_999, request: 17_999) == (9_999 + 17_999 * 10_000) * 20_000)
    }

    @Test func firstRequestAfterATime() {
        let s = OpenLoopSchedule(rate: 1000, connections: 4, start: 0)
        for c in 0..<4 {
            for t: Int64 in [0, 1, 999_999, 1_000_000, 2_500_000, 4_000_000, 123_456_789] {
                let n = s.firstRequest(connection: c, atOrAfter: t)
                #expect(s.intendedTime(connection: c, request: n) >= t)
                if n > 0 { #expect(s.intendedTime(connection: c, request: n - 1) < t) }
            }
        }
    }
}

@Suite struct BenchStatsTests {
    @Test func mergingAddsCountsAndHistograms() {
        var a = BenchStats()
        var b = BenchStats()
        for v in 1...1000 { a.corrected.record(UInt64(v) * 1000) }
        for v in 1001...2000 { b.corrected.record(UInt64(v) * 1000) }
        a.requests = 1000
        b.requests = 1000
        a.statuses[200] = 1000
        b.statuses[200] = 990
        b.statuses[503] = 10
        b.errors[BenchErrorKind.timeout.rawValue] = 3
        b.maxLagNanoseconds = 7
        a.merge(b)
        #expect(a.requests == 2000)
        #expect(a.corrected.totalCount == 2000)
        #expect(a.corrected.valuesAreEquivalent(a.corrected.valueAtPercentile(50), 1_000_000))
        #expect(a.corrected.valuesAreEquivalent(a.corrected.max, 2_000_000))
        #expect(a.statuses[200] == 1990 && a.statuses[503] == 10)
        #expect(a.errors(.timeout) == 3 && a.totalErrors == 3)
        #expect(a.maxLagNanoseconds == 7)
    }
}

@Suite struct BenchInputTests {
    @Test func urls() throws {
        let u = try TargetURL("http://127.0.0.1:8080/plaintext?x=1#frag")
        #expect(u.host == "127.0.0.1" && u.port == 8080 && u.target == "/plaintext?x=1")
        #expect(u.hostHeader == "127.0.0.1:8080")
        let bare = try TargetURL("http://example.com")
        #expect(bare.port == 80 && bare.target == "/" && bare.hostHeader == "example.com")
        let v6 = try TargetURL("http://[::1]:9000/a")
        #expect(v6.host == "::1" && v6.hostHeader == "[::1]:9000")
        for bad in ["https://x/", "ftp://x/", "http://:80/", "http://x:0/", "http://x:99999/", "http://x/a b", "localhost:8080", "http://u@x/"] {
            #expect(throws: TargetURL.Invalid.self, "\(bad)") { try TargetURL(bad) }
        }
    }

    @Test func requestBytesAreBuiltOnce() throws {
        let url = try TargetURL("http://h:81/p")
        let r = try RequestTemplate(method: "POST", url: url, headers: ["X-A: 1", "Accept:  */*"], body: Array("hi".utf8), keepAlive: false)
        #expect(String(decoding: r.bytes, as: UTF8.self)
            == "POST /p HTTP/1.1\r\nHost: h:81\r\nX-A: 1\r\nAccept: */*\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        #expect(r.batch(depth: 3).count == r.bytes.count * 3)
        let host = try RequestTemplate(method: "GET", url: url, headers: ["Host: other"], body: nil, keepAlive: true)
        #expect(String(decoding: host.bytes, as: UTF8.self) == "GET /p HTTP/1.1\r\nHost: other\r\n\r\n")
        for bad in [["NoColon"], ["Bad Name: x"], ["Content-Length: 5"], ["Connection: close"], ["X: a\u{1}"]] {
            #expect(throws: RequestTemplate.Invalid.self) { try RequestTemplate(method: "GET", url: url, headers: bad, body: nil, keepAlive: true) }
        }
        #expect(throws: RequestTemplate.Invalid.self) { try RequestTemplate(method: "G T", url: url, headers: [], body: nil, keepAlive: true) }
    }

    @Test func sourceRanges() throws {
        let r = try SourceAddresses.parse("127.0.0.2-127.0.0.4,127.0.1.9-10")
        #expect(r.map(\.host) == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.1.9", "127.0.1.10"])
        for bad in ["", "127.0.0", "127.0.0.5-3", "127.0.0.1-300", "::1", "a.b.c.d"] {
            #expect(throws: SourceAddresses.Invalid.self, "\(bad)") { try SourceAddresses.parse(bad) }
        }
    }
}
