import Benchmark
@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1

// Pure-codec benchmarks: the request parser, the response encoder and the router on plain bytes,
// no sockets. Each counts heap allocations; the budget for all of them is zero (see Thresholds/
// and docs/benchmarks.md).
//
// Benchmarks of a few nanoseconds run 1,000 operations per sample (`.kilo`) so the clock does
// not dominate. Their printed malloc figure is per operation, but `thresholds check` compares
// the raw count per sample, so a single allocation in a thousand operations fails it.
// "Codec.oneRequestParseRouteEncode" does all three for one request per sample.
//
// The benchmark closure runs once per sample: anything it allocates before its loop counts, so
// buffers are made outside it, once.

/// A request as wrk sends it.
let wrkRequest = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"

/// A request as a browser sends it: eleven header fields.
let browserRequest = """
    GET /api/users/12345/orders?page=2&sort=desc HTTP/1.1\r
    Host: www.example.com\r
    User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r
    Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r
    Accept-Language: en-US,en;q=0.5\r
    Accept-Encoding: gzip, deflate, br\r
    Referer: https://www.example.com/api/users/12345\r
    Connection: keep-alive\r
    Cookie: session=4f2a9c1be07d4e5f8a6b; theme=dark; lang=en\r
    Upgrade-Insecure-Requests: 1\r
    Sec-Fetch-Dest: document\r
    Sec-Fetch-Mode: navigate\r
    \r

    """

/// Allocation budget: none at all, at every percentile.
nonisolated(unsafe) let noAllocations: [BenchmarkMetric: BenchmarkThresholds] = [
    .mallocCountTotal: .init(absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0])
]

func configuration(_ scale: BenchmarkScalingFactor = .kilo) -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: scale,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000,
        thresholds: noAllocations)
}

/// Bytes that stay put for the whole benchmark (never freed: the process ends after the run).
func pinned(_ text: String) -> UnsafeRawBufferPointer {
    let bytes = Array(text.utf8)
    let p = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
    p.copyBytes(from: bytes)
    return UnsafeRawBufferPointer(p)
}

nonisolated(unsafe) let benchmarks: () -> Void = {
    let limits = RequestLimits()
    let headers = UnsafeMutablePointer<HeaderSlot>.allocate(capacity: limits.maxHeaderCount)

    // MARK: Parser

    for (name, text) in [("Parser.wrkRequest", wrkRequest), ("Parser.browserRequest", browserRequest)] {
        let input = pinned(text)
        Benchmark(name, configuration: configuration()) { benchmark in
            var parser = RequestParser()
            for _ in benchmark.scaledIterations {
                parser.reset()
                let result = parser.parse(input, headers: headers, limits: limits)
                precondition(result == .complete(headLength: input.count))
                blackHole(parser.pathRange)
            }
        }
    }

    let pipelined = pinned(String(repeating: wrkRequest, count: 16))
    Benchmark("Parser.wrkPipelined16", configuration: configuration(.one)) { benchmark in
        var parser = RequestParser()
        for _ in benchmark.scaledIterations {
            var offset = 0
            while offset < pipelined.count {
                parser.reset()
                let rest = UnsafeRawBufferPointer(start: pipelined.baseAddress! + offset, count: pipelined.count - offset)
                guard case .complete(let length) = parser.parse(rest, headers: headers, limits: limits) else {
                    preconditionFailure("pipelined request did not parse")
                }
                offset += length
            }
            blackHole(offset)
        }
    }

    // A chunked upload of 4 KiB in 16 chunks, decoded in place (the decoding moves the data,
    // so each sample starts from a fresh copy of the request).
    var chunkedText = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    for _ in 0..<16 { chunkedText += "100;ext=v\r\n" + String(repeating: "z", count: 256) + "\r\n" }
    chunkedText += "0\r\nX-Trailer: 1\r\n\r\n"
    let chunkedSource = pinned(chunkedText)
    let chunkedWork = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkedSource.count, alignment: 16)
    Benchmark("Parser.chunkedBody4KiBInPlace", configuration: configuration(.one)) { benchmark in
        var parser = RequestParser()
        for _ in benchmark.scaledIterations {
            chunkedWork.copyMemory(from: chunkedSource)
            parser.reset()
            guard case .complete = parser.parse(UnsafeRawBufferPointer(chunkedWork), headers: headers, limits: limits),
                case .complete(let body, _) = parser.readBody(chunkedWork, maxBodyBytes: 1 << 20)
            else { preconditionFailure("the chunked request did not parse") }
            precondition(body.count == 4096)
            blackHole(body)
        }
    }

    let browser = pinned(browserRequest)
    Benchmark("Parser.headerLookupLastOfEleven", configuration: configuration()) { benchmark in
        var parser = RequestParser()
        _ = parser.parse(browser, headers: headers, limits: limits)
        let view = HeaderView(base: browser.baseAddress!.assumingMemoryBound(to: UInt8.self), slots: headers, count: parser.headerCount)
        let name: StaticString = "sec-fetch-mode"  // the last field line
        let wanted = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for _ in benchmark.scaledIterations {
            blackHole(view.firstIndex(named: wanted))
        }
    }

    // MARK: Encoder

    let server: StaticString = "Server: Gust\r\n"
    let plainType: StaticString = "Content-Type: text/plain\r\n"
    let body: StaticString = "Hello, World!"
    var dateCache = DateCache(epochSeconds: 1_700_000_000)
    let dateLine = dateCache.line
    let buffer = UnsafeMutablePointer<ByteBuffer>.allocate(capacity: 1)
    buffer.initialize(to: ByteBuffer(capacity: 4096))
    Benchmark("Encoder.plaintext", configuration: configuration()) { benchmark in
        for _ in benchmark.scaledIterations {
            ResponseEncoder.encode(
                into: &buffer.pointee, start: 0, status: .ok,
                serverLine: UnsafeBufferPointer(start: server.utf8Start, count: server.utf8CodeUnitCount),
                contentTypeLine: UnsafeBufferPointer(start: plainType.utf8Start, count: plainType.utf8CodeUnitCount),
                dateLine: dateLine, connection: .none,
                body: UnsafeRawBufferPointer(start: body.utf8Start, count: body.utf8CodeUnitCount))
            blackHole(buffer.pointee.writerIndex)
        }
    }
    Benchmark("Encoder.dateLineEverySecond", configuration: configuration()) { benchmark in
        var second: Int64 = 1_700_000_000
        for _ in benchmark.scaledIterations {
            second += 1
            dateCache.update(epochSeconds: second)
            blackHole(dateCache.line.baseAddress)
        }
    }

    // MARK: Router

    let table = makeRouteTable()
    // Names without "/" or spaces: package-benchmark's threshold files are named after them.
    for (name, path) in [
        ("Router.static", "/plaintext"), ("Router.twoParameters", "/api/users/12345/orders/67890"),
        ("Router.wildcard", "/static/css/site/main.css"), ("Router.notFound", "/no/such/page"),
    ] {
        let bytes = pinned(path)
        Benchmark(name, configuration: configuration()) { benchmark in
            let p = UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: bytes.count)
            for _ in benchmark.scaledIterations {
                blackHole(table.match(method: .get, path: p, pathOffset: 0))
            }
        }
    }

    // MARK: All three, one request per sample

    let request = pinned(wrkRequest)
    Benchmark("Codec.oneRequestParseRouteEncode", configuration: configuration(.one)) { benchmark in
        var parser = RequestParser()
        let base = request.baseAddress!.assumingMemoryBound(to: UInt8.self)
        for _ in benchmark.scaledIterations {
            parser.reset()
            guard case .complete = parser.parse(request, headers: headers, limits: limits) else { preconditionFailure() }
            let path = parser.pathRange
            let match = table.match(method: parser.method, path: UnsafeBufferPointer(start: base + path.lowerBound, count: path.count), pathOffset: path.lowerBound)
            precondition(match.outcome != .notFound)
            ResponseEncoder.encode(
                into: &buffer.pointee, start: 0, status: .ok,
                serverLine: UnsafeBufferPointer(start: server.utf8Start, count: server.utf8CodeUnitCount),
                contentTypeLine: UnsafeBufferPointer(start: plainType.utf8Start, count: plainType.utf8CodeUnitCount),
                dateLine: dateLine, connection: parser.keepAlive ? .none : .close,
                body: UnsafeRawBufferPointer(start: body.utf8Start, count: body.utf8CodeUnitCount))
            blackHole(buffer.pointee.writerIndex)
        }
    }
}

/// A route table shaped like a small real application: twenty routes, static, parameters and
/// wildcards.
func makeRouteTable() -> RouteTable {
    let router = Router()
    let noop: Handler = { _, res in res.send("x") }
    for pattern in [
        "/", "/plaintext", "/json", "/echo", "/delay", "/health", "/metrics", "/login", "/logout",
        "/api/users", "/api/users/:id", "/api/users/:id/orders", "/api/users/:id/orders/:order",
        "/api/products", "/api/products/:sku", "/api/search", "/static/*", "/docs/*", "/admin/settings",
        "/admin/users/:id",
    ] {
        router.get(pattern, noop)
    }
    router.post("/api/users", noop)
    return router.compile()
}

