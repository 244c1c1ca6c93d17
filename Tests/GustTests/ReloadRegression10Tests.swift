@_spi(GustInternal) @testable import Gust
@_spi(GustInternal) import GustIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Regression tests (review round 10) for the lame duck's drain after a reload.
@Suite(.serialized) struct ReloadRegression10Tests {
    /// Control: a keep-alive connection between requests gets its next request answered
    /// (with `Connection: close`) during the lame duck's idle grace.
    @Test func aKeepAliveConnectionIsAnsweredDuringTheIdleGrace() async throws {
        let s = try TestServer()
        let c = try s.client()
        try c.send(get("/plaintext"))
        #expect(try c.readResponse().status == 200)
        s.server.drain(idleGrace: .seconds(2))
        usleep(100_000)
        try c.send(get("/plaintext"))
        let r = try c.readResponse()
        #expect(r.status == 200 && r.header("Connection") == "close")
    }

    /// A client that connected just before the reload (accepted by the old process, its
    /// request still on the way) is closed at once by the lame duck: `drain(requestsBuffered:
    /// idleGrace:now:)` only grants the idle grace to connections that have served a request
    /// (`_requests > 0`). Its request then meets a closed connection: a fresh connection is not
    /// retried by clients (http.client, requests, curl), so the reload drops it.
    @Test func aConnectionAcceptedJustBeforeTheReloadIsAnsweredNotClosed() async throws {
        let s = try TestServer()
        let c = try s.client()
        // Accepted (the server holds it), its request not sent yet.
        for _ in 0..<100 where await s.server.stats().connections == 0 { usleep(10_000) }
        #expect(await s.server.stats().connections == 1)
        s.server.drain(idleGrace: .seconds(2))
        usleep(100_000)
        try c.send(get("/plaintext"))
        let r = try? c.readResponse()
        #expect(r?.status == 200, "the lame duck closed a connection whose first request was on its way")
    }
}
