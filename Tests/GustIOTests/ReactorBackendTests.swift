@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The contract every `ReactorBackend` keeps, checked on the epoll backend (a completion-based
/// backend would run the same checks): readiness reported with the registered token, interest
/// changes, deregistration, a wait that does not wait, several descriptors in one wait.
@Suite struct ReactorBackendContractTests {
    func pair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
        return (fds[0], fds[1])
    }

    func reports(_ backend: some ReactorBackend, timeout: Int32 = 0) throws -> [UInt64: Events] {
        var seen: [UInt64: Events] = [:]
        let n = try backend.wait(timeoutMilliseconds: timeout) { token, events in seen[token] = events }
        #expect(n == seen.count)
        return seen
    }

    @Test func epollKeepsTheContract() throws {
        let epoll = try System.epollCreate()
        defer { System.close(epoll) }
        try check(EpollBackend(epollFD: epoll, maxEvents: 8))
    }

    func check(_ backend: some ReactorBackend) throws {
        let (a, b) = pair()
        let (c, d) = pair()
        defer { for fd in [a, b, c] { System.close(fd) } }  // (d is closed below)
        try backend.register(a, interest: .readable, token: 41)
        try backend.register(c, interest: .readable, token: 42)
        #expect(try reports(backend).isEmpty, "nothing is ready: a zero timeout returns at once, empty")

        _ = write(b, "x", 1)
        let one = try reports(backend, timeout: 1000)
        #expect(one.keys.sorted() == [41] && one[41]!.contains(.readable))

        _ = write(d, "y", 1)
        let both = try reports(backend, timeout: 1000)
        #expect(both.keys.sorted() == [41, 42], "level-triggered: unread bytes are reported again, beside new ones")

        try backend.modify(a, interest: .writable, token: 43)
        let changed = try reports(backend, timeout: 1000)
        #expect(changed[43]?.contains(.writable) == true && changed[41] == nil, "the new token and interest")

        backend.deregister(a)
        backend.deregister(c)
        #expect(try reports(backend).isEmpty, "deregistered descriptors are not reported")

        try backend.register(c, interest: .readHangup, token: 44)
        System.close(d)
        let gone = try reports(backend, timeout: 1000)
        #expect(gone[44]?.contains(.readHangup) == true, "the peer leaving is reported")
    }
}
