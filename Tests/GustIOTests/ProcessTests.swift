@_spi(GustInternal) import GustIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The pieces of reload and prefork: spawning with a control channel, passing listening
/// sockets with SCM_RIGHTS, reaping, pid files, and how listeners are shared among reactors.
@Suite struct ProcessTests {
    @Test func listenersAreSharedOutSoThatEveryOneIsServed() {
        // As many as reactors: one each.
        #expect((0..<2).map { Listener.share(of: 2, forReactor: $0, of: 2) } == [[0], [1]])
        // More: every one is served by someone.
        #expect((0..<2).map { Listener.share(of: 5, forReactor: $0, of: 2) } == [[0, 2, 4], [1, 3]])
        // Fewer (systemd's one socket): shared.
        #expect((0..<3).map { Listener.share(of: 1, forReactor: $0, of: 3) } == [[0], [0], [0]])
        #expect(Listener.share(of: 0, forReactor: 0, of: 2) == [])
    }

    @Test func listeningSocketsCrossAUnixSocketAndKeepTheirQueue() throws {
        let address = try SocketAddress(host: "127.0.0.1", port: 0)
        let listener = try Listener.bind(address, backlog: 16, reusePort: false)
        // A client waits in the queue before the hand-over.
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(client) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = in_port_t(UInt16(listener.port).bigEndian)
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(rc == 0)
        let (parent, child) = try ControlChannel.pair()
        let receiver = ControlChannel(fd: child)
        try parent.sendListeners([listener.fd])
        listener.close()  // the sender's copy goes; the socket stays, with its queue
        let fds = try receiver.receiveListeners(timeout: .seconds(2))
        #expect(fds.count == 1)
        let inherited = try #require(Listener.inherit(fds[0]))
        #expect(inherited.port == Int(UInt16(bigEndian: sin.sin_port)))
        var accepted: Int32 = -1
        for _ in 0..<100 {
            if case .processed(let fd) = try inherited.accept() {
                accepted = fd
                break
            }
            usleep(10_000)
        }
        #expect(accepted >= 0, "the connection queued before the hand-over is accepted after it")
        if accepted >= 0 { Glibc.close(accepted) }
        inherited.close()
        receiver.sendReady()
        #expect(parent.awaitStatus(timeout: .seconds(1)) == .ready(pid: getpid()))
        receiver.sendFailed("cannot\nserve")
        #expect(parent.awaitStatus(timeout: .seconds(1)) == .failed("cannot serve"))
        #expect(parent.awaitStatus(timeout: .milliseconds(200)) == .timedOut)
        receiver.close()
        #expect(parent.awaitStatus(timeout: .seconds(1)) == .closed)
        parent.close()
    }

    @Test func aListenerIsRequiredWhereOneIsExpected() throws {
        let (a, b) = try System.socketPair()
        defer {
            System.close(a)
            System.close(b)
        }
        #expect(Listener.inherit(a) == nil, "a connected socket is not a listener")
        let (parent, child) = try ControlChannel.pair()
        try System.send(parent.fd, Array("LISTENERS 2\n".utf8), descriptors: [])
        #expect(throws: SystemError.self) { try ControlChannel(fd: child).receiveListeners(timeout: .seconds(1)) }
        parent.close()
        System.close(child)
    }

    @Test func aSpawnedChildGetsItsChannelAsDescriptor3AndIsReaped() throws {
        let (parent, child) = try ControlChannel.pair()
        let pid = try Processes.spawn(
            path: "/bin/sh", arguments: ["sh", "-c", "echo \"READY $$\" >&3; exit 7"], environment: ["PATH=/usr/bin:/bin"],
            control: child)
        System.close(child)
        #expect(parent.awaitStatus(timeout: .seconds(5)) == .ready(pid: pid))
        let exit = Processes.reap(pid, block: true)
        #expect(exit == ChildExit(pid: pid, code: 7, signal: nil))
        #expect(exit?.description == "exited with status 7")
        parent.close()
    }

    @Test func aChildKilledBySignalIsReportedSo() throws {
        let pid = try Processes.spawn(path: "/bin/sleep", arguments: ["sleep", "30"], environment: [], control: nil)
        #expect(Processes.exists(pid))
        // (Right after the spawn the command line can still read as empty for an instant.)
        var command = Processes.commandLine(of: pid)
        for _ in 0..<100 where command == nil {
            usleep(10_000)
            command = Processes.commandLine(of: pid)
        }
        #expect(command == ["sleep", "30"])
        #expect(Processes.kill(pid, Signals.kill))
        let exit = Processes.reap(pid, block: true)
        #expect(exit?.signal == SIGKILL && exit?.code == nil)
        #expect(exit?.description.hasPrefix("killed by signal 9") == true)
        #expect(!Processes.exists(pid))
    }

    @Test func spawningWhatDoesNotExistFails() {
        #expect(throws: SystemError.self) {
            try Processes.spawn(path: "/nonexistent/gust", arguments: ["gust"], environment: [], control: nil)
        }
    }

    @Test func pidFilesAreWrittenWholeAndRemovedOnlyByTheirOwner() throws {
        let path = "/tmp/gust-pidfile-test-\(getpid()).pid"
        defer { unlink(path) }
        #expect(PidFile.read(path) == nil)
        try PidFile.write(path, pid: 4242)
        #expect(PidFile.read(path) == 4242)
        #expect(System.readFile(path) == Array("4242\n".utf8))
        PidFile.removeIfOwned(path, pid: 1)
        #expect(PidFile.read(path) == 4242, "not ours: left alone")
        PidFile.removeIfOwned(path, pid: 4242)
        #expect(PidFile.read(path) == nil)
        try System.writeFile(path, Array("garbage".utf8))
        #expect(PidFile.read(path) == nil)
    }

    @Test func clientKeysNameAddressesAndIPv6Prefixes() {
        func key(_ text: String) -> ClientKey {
            var storage = sockaddr_storage()
            if text.contains(":") {
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                inet_pton(AF_INET6, text, &sin6.sin6_addr)
                withUnsafeBytes(of: sin6) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
            } else {
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_addr.s_addr = inet_addr(text)
                withUnsafeBytes(of: sin) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
            }
            return ClientKey(storage)
        }
        #expect(key("203.0.113.7").description == "203.0.113.7")
        #expect(key("::ffff:203.0.113.7") == key("203.0.113.7"), "an IPv4-mapped address is its IPv4 client")
        #expect(key("2001:db8:1:2::5") == key("2001:db8:1:2:ffff::1"), "one /64, one client")
        #expect(key("2001:db8:1:2::5") != key("2001:db8:1:3::5"))
        #expect(key("2001:db8:1:2::5").description == "2001:db8:1:2::/64")
        #expect(key("127.0.0.1") != key("127.0.0.2"))
        #expect(ClientKey(sockaddr_storage()) == .local)
    }
}
