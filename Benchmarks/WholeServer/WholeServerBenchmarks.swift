import Benchmark
#if canImport(Glibc)
import Glibc
#endif
@_spi(GustInternal) import Gust
import GustDemo
@_spi(GustInternal) import GustIO

// Whole requests through the real server: `gust serve`'s demo app on one reactor thread in this
// process, a blocking loopback client in the benchmark thread. The malloc counter sums every
// thread, so "0 allocations" covers the reactor's read, parse, route, handler, encoding and
// write, and the client's syscalls. Time per request here includes both sides and the loopback
// round trip; for server CPU per request use scripts/compare.sh.

/// One keep-alive client connection to the benchmark server.
final class Client: @unchecked Sendable {
    let fd: Int32
    let request: UnsafeRawBufferPointer
    let responseLength: Int
    let readBuffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 64)

    /// Connects and learns the (constant) length of one response by sending one request.
    init(port: Int, request text: String, pipeline: Int) throws {
        fd = try Self.connect(port: port)
        let one = Array(text.utf8)
        let all = UnsafeMutableRawBufferPointer.allocate(byteCount: one.count * pipeline, alignment: 16)
        for i in 0..<pipeline { UnsafeMutableRawBufferPointer(rebasing: all[(i * one.count)...]).copyBytes(from: one) }
        request = UnsafeRawBufferPointer(all)
        // Learn one response's length: the head up to the blank line plus Content-Length.
        try Self.writeAll(fd, UnsafeRawBufferPointer(rebasing: request[0..<one.count]))
        var have = 0
        while true {
            guard case .processed(let n) = try System.read(fd, into: readBuffer + have, count: 65536), n > 0 else {
                fatalError("server closed the connection")
            }
            have += n
            let text = String(decoding: UnsafeRawBufferPointer(start: readBuffer, count: have), as: UTF8.self)
            guard let headEnd = text.range(of: "\r\n\r\n"),
                let lengthLine = text.range(of: "Content-Length: ")
            else { continue }
            let digits = text[lengthLine.upperBound...].prefix { $0.isNumber }
            let total = text.utf8.distance(from: text.startIndex, to: headEnd.upperBound) + Int(digits)!
            if have >= total {
                precondition(have == total, "unexpected bytes after the first response")
                precondition(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "first response was not 200: \(text)")
                responseLength = total * pipeline
                return
            }
        }
    }

    static func connect(port: Int) throws -> Int32 {
        let address = try SocketAddress(host: "127.0.0.1", port: port)
        let fd = try System.socket(domain: address.family)
        try System.setBlocking(fd, true)
        _ = try address.withSockAddr { (p, n) throws(SystemError) in try System.connect(fd, address: p, length: n) }
        System.setNoDelay(fd)
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var sent = 0
        while sent < bytes.count {
            guard case .processed(let n) = try System.write(fd, from: bytes.baseAddress! + sent, count: bytes.count - sent) else {
                fatalError("blocking socket would block")
            }
            sent += n
        }
    }

    /// Sends the request batch and reads all its responses. No allocation.
    @inline(__always) func roundTrip() throws {
        try Self.writeAll(fd, request)
        var have = 0
        while have < responseLength {
            guard case .processed(let n) = try System.read(fd, into: readBuffer + have, count: responseLength - have), n > 0
            else { fatalError("server closed the connection") }
            have += n
        }
    }
}

/// A directory with one 4 KiB file, for the static-file benchmark.
let staticDirectory: String = {
    let path = "/tmp/gust-bench-static-\(getpid())"
    mkdir(path, 0o755)
    do { try System.writeFile(path + "/page.html", [UInt8](repeating: 0x61, count: 4096)) } catch { fatalError("\(error)") }
    return path
}()

/// The server, started once for all benchmarks in this process.
let server: Server = {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.reactors = 1
    let router = DemoApp.makeRouter()
    do { try router.files("/static", directory: staticDirectory) } catch { fatalError("\(error)") }
    let server = Server(configuration: configuration, router: router)
    do { try server.start() } catch { fatalError("cannot start the benchmark server: \(error)") }
    return server
}()

nonisolated(unsafe) let noAllocations: [BenchmarkMetric: BenchmarkThresholds] = [
    .mallocCountTotal: .init(absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0])
]

/// The allocation budget of an async request: the task (the Swift runtime makes it in four
/// allocations: the task, its first allocator slab, two closure contexts) and the owned request.
func allocationBudget(_ count: Int) -> [BenchmarkMetric: BenchmarkThresholds] {
    [.mallocCountTotal: .init(absolute: [.p90: count])]
}

nonisolated(unsafe) let benchmarks: () -> Void = {
    let cases: [(name: String, request: String, pipeline: Int, budget: [BenchmarkMetric: BenchmarkThresholds])] = [
        ("Server.plaintextKeepAlive", "GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n", 1, noAllocations),
        ("Server.jsonKeepAlive", "GET /json HTTP/1.1\r\nHost: bench\r\n\r\n", 1, noAllocations),
        ("Server.echo64ByteBody", "POST /echo HTTP/1.1\r\nHost: bench\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n"
            + String(repeating: "e", count: 64), 1, noAllocations),
        ("Server.plaintextPipelined16", "GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n", 16, noAllocations),
        ("Server.staticFile4KiB", "GET /static/page.html HTTP/1.1\r\nHost: bench\r\n\r\n", 1, noAllocations),
        ("Server.echoChunked1KiB", "POST /echo HTTP/1.1\r\nHost: bench\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(repeating: "100\r\n" + String(repeating: "c", count: 256) + "\r\n", count: 4) + "0\r\n\r\n", 1, noAllocations),
        // The async tier: a task per request on the reactor's executor.
        ("Server.asyncPlaintextKeepAlive", "GET /async/plaintext HTTP/1.1\r\nHost: bench\r\n\r\n", 1, allocationBudget(5)),
        ("Server.asyncJSONPost", "POST /async/json HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n"
            + #"{"name":"gust","count":21}"#, 1, allocationBudget(40)),
    ]
    for c in cases {
        nonisolated(unsafe) var client: Client?
        Benchmark(
            c.name,
            configuration: .init(
                metrics: [.wallClock, .throughput, .mallocCountTotal],
                maxDuration: .seconds(2), maxIterations: 200_000, thresholds: c.budget,
                setup: { client = try Client(port: server.port!, request: c.request, pipeline: c.pipeline) },
                teardown: {
                    if let fd = client?.fd { System.close(fd) }
                    client = nil
                })
        ) { benchmark in
            let connection = client!
            for _ in benchmark.scaledIterations {
                try connection.roundTrip()
            }
        }
    }
}
