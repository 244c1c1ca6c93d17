@_spi(GustInternal) import GustHTTP1
import Testing

@Suite struct RequestParserTests {
    @Test(arguments: validVectors)
    func acceptsValid(_ v: Vector) {
        checkEveryPlan(v)
    }

    @Test(arguments: invalidVectors)
    func rejectsInvalid(_ v: Vector) {
        checkEveryPlan(v)
    }

    func checkEveryPlan(_ v: Vector) {
        for (plan, chunks) in Harness.plans(for: v.bytes.count) {
            let outcome = Harness.run(v.bytes, chunks: chunks, limits: v.limits)
            #expect(Harness.matches(outcome, v), "\(v.name) [\(plan)]: got \(outcome), want \(v.expected)")
            let moved = Harness.run(v.bytes, chunks: chunks, limits: v.limits, relocate: true)
            #expect(moved == outcome, "\(v.name) [\(plan), relocated]: got \(moved), unmoved \(outcome)")
        }
    }

    @Test func everyErrorIsCoveredByAVector() {
        let covered = Set(invalidVectors.compactMap { v -> HTTPParseError? in
            if case .error(let e) = v.expected { return e }
            return nil
        })
        #expect(covered == Set(HTTPParseError.allCases), "untested: \(Set(HTTPParseError.allCases).subtracting(covered))")
    }

    @Test func statusForEachError() {
        #expect(HTTPParseError.requestLineTooLong.status == 414)
        #expect(HTTPParseError.headerSectionTooLarge.status == 431)
        #expect(HTTPParseError.tooManyHeaders.status == 431)
        #expect(HTTPParseError.versionNotSupported.status == 505)
        #expect(HTTPParseError.obsoleteLineFolding.status == 400)
        #expect(HTTPParseError.missingHost.status == 400)
    }

    @Test func resultsAreStickyUntilReset() {
        var parser = RequestParser()
        let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: 100)
        defer { table.deallocate() }
        let bad = Array("GET / HTTP/1.1\r\nHost : a\r\n\r\n".utf8)
        let good = Array("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let first = bad.withUnsafeBytes { parser.parse($0, headers: table, limits: RequestLimits()) }
        let again = good.withUnsafeBytes { parser.parse($0, headers: table, limits: RequestLimits()) }
        #expect(first == .invalid(.whitespaceBeforeColon))
        #expect(again == .invalid(.whitespaceBeforeColon), "an invalid parser stays invalid")
        parser.reset()
        let fresh = good.withUnsafeBytes { parser.parse($0, headers: table, limits: RequestLimits()) }
        #expect(fresh == .complete(headLength: good.count))
        let repeated = good.withUnsafeBytes { parser.parse($0, headers: table, limits: RequestLimits()) }
        #expect(repeated == .complete(headLength: good.count), "a complete parser stays complete")
        #expect(parser.isHeadComplete)
    }

    @Test func bodyBytesAreNotParsed() {
        // The body may hold anything; the parser stops at the end of the head.
        var parser = RequestParser()
        let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: 100)
        defer { table.deallocate() }
        let head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n"
        let bytes = Array(head.utf8) + [0, 13, 10, 255]
        let result = bytes.withUnsafeBytes { parser.parse($0, headers: table, limits: RequestLimits()) }
        #expect(result == .complete(headLength: head.utf8.count))
        #expect(parser.contentLength == 4)
    }

    @Test func headerViewLooksUpCaseInsensitively() {
        var parser = RequestParser()
        let table = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: 100)
        defer { table.deallocate() }
        let bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX-Token: one\r\nx-token: two\r\n\r\n".utf8)
        bytes.withUnsafeBytes { raw in
            _ = parser.parse(raw, headers: table, limits: RequestLimits())
            let view = HeaderView(base: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), slots: table, count: parser.headerCount)
            let name = Array("X-TOKEN".utf8)
            name.withUnsafeBufferPointer { n in
                let first = view.firstIndex(named: n)
                #expect(first == 1)
                #expect(view.firstIndex(named: n, from: 2) == 2)
                #expect(String(decoding: view.value(at: 2), as: UTF8.self) == "two")
            }
        }
    }
}
