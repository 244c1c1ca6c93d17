@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A directory tree to serve, made fresh for each test:
///
///     <base>/outside.txt                 (must never be served)
///     <base>/root/index.html
///     <base>/root/a.txt
///     <base>/root/Big.BIN                (3 MiB + 1)
///     <base>/root/sub/index.html
///     <base>/root/empty/                 (no index)
///     <base>/root/.secret
///     <base>/root/link.txt -> a.txt      (a link inside: served)
///     <base>/root/escape.txt -> ../outside.txt
///     <base>/root/etc -> /etc            (a directory link out)
final class FileTree {
    let base: String
    let root: String
    static let big: [UInt8] = (0..<(3 << 20) + 1).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 11) }

    init() throws {
        var template = Array("/tmp/gust-files-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestClient.Failure(description: "mkdtemp failed") }
        base = String(cString: made)
        root = base + "/root"
        mkdir(root, 0o755)
        mkdir(root + "/sub", 0o755)
        mkdir(root + "/empty", 0o755)
        try System.writeFile(base + "/outside.txt", Array("top secret\n".utf8))
        try System.writeFile(root + "/index.html", Array("<h1>home</h1>\n".utf8))
        try System.writeFile(root + "/a.txt", Array("alpha\n".utf8))
        try System.writeFile(root + "/Big.BIN", Self.big)
        try System.writeFile(root + "/sub/index.html", Array("<p>sub</p>\n".utf8))
        try System.writeFile(root + "/.secret", Array("dot\n".utf8))
        symlink("a.txt", root + "/link.txt")
        symlink("../outside.txt", root + "/escape.txt")
        symlink("/etc", root + "/etc")
    }

    deinit {
        for path in ["/root/etc", "/root/escape.txt", "/root/link.txt", "/root/.secret", "/root/sub/index.html", "/root/Big.BIN",
                     "/root/a.txt", "/root/index.html", "/outside.txt"] { unlink(base + path) }
        for dir in ["/root/sub", "/root/empty", "/root", ""] { rmdir(base + dir) }
    }
}

@Suite struct FileServerTests {
    let tree: FileTree
    let s: TestServer

    init() throws {
        let tree = try FileTree()
        self.tree = tree
        s = try TestServer(routes: { router in
            do {
                try router.files("/static", directory: tree.root, options: FileServerOptions(cacheControl: "public, max-age=60"))
            } catch {
                Issue.record("\(error)")
            }
        })
    }

    func fetch(_ path: String, _ extra: String = "", head: Bool = false) throws -> TestClient.Response {
        let c = try s.client()
        try c.send("\(head ? "HEAD" : "GET") \(path) HTTP/1.1\r\nHost: t\r\n\(extra)\r\n")
        return try c.readResponse(head: head)
    }

    @Test func servesAFileWithValidators() throws {
        let r = try fetch("/static/a.txt")
        #expect(r.status == 200)
        #expect(r.text == "alpha\n")
        #expect(r.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(r.header("Accept-Ranges") == "bytes")
        #expect(r.header("Cache-Control") == "public, max-age=60")
        let etag = try #require(r.header("ETag"))
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("-6\""))
        let modified = try #require(r.header("Last-Modified"))
        #expect(modified.hasSuffix(" GMT") && modified.count == 29)
    }

    @Test func headSendsTheHeadOnly() throws {
        let c = try s.client()
        try c.send("HEAD /static/Big.BIN HTTP/1.1\r\nHost: t\r\n\r\n" + get("/plaintext"))
        let r = try c.readResponse(head: true)
        #expect(r.status == 200 && r.header("Content-Length") == "\(FileTree.big.count)")
        #expect(r.header("Content-Type") == "application/octet-stream")
        #expect(try c.readResponse().text == "Hello, World!")  // no body bytes in between
    }

    @Test func aLargeFileArrivesIntactAndPipelinedRequestsWait() throws {
        let c = try s.client()
        try c.send(get("/static/Big.BIN") + get("/static/a.txt") + get("/plaintext"))
        let big = try c.readResponse()
        #expect(big.status == 200 && big.body == FileTree.big)
        #expect(try c.readResponse().text == "alpha\n")
        #expect(try c.readResponse().text == "Hello, World!")
    }

    @Test func aSlowReaderGetsTheWholeFile() async throws {
        let c = try s.client(receiveBuffer: 8192)
        try c.send(get("/static/Big.BIN"))
        usleep(200_000)
        let stats = await s.server.stats()
        #expect(stats.connections == 1)
        let r = try c.readResponse()
        #expect(r.body == FileTree.big)
    }

    @Test func conditionalRequestsGet304() throws {
        let first = try fetch("/static/a.txt")
        let etag = first.header("ETag")!
        let modified = first.header("Last-Modified")!
        for extra in ["If-None-Match: \(etag)\r\n", "If-None-Match: \"x\", W/\(etag)\r\n", "If-None-Match: *\r\n",
                      "If-Modified-Since: \(modified)\r\n", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n"] {
            let r = try fetch("/static/a.txt", extra)
            #expect(r.status == 304, "\(extra)")
            #expect(r.header("ETag") == etag && r.body.isEmpty && r.header("Content-Length") == nil)
        }
        for extra in ["If-None-Match: \"other\"\r\n", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
                      "If-Modified-Since: not a date\r\n",
                      // If-None-Match wins over If-Modified-Since.
                      "If-None-Match: \"other\"\r\nIf-Modified-Since: \(modified)\r\n"] {
            #expect(try fetch("/static/a.txt", extra).status == 200, "\(extra)")
        }
    }

    @Test func rangesGet206Or416() throws {
        let r = try fetch("/static/Big.BIN", "Range: bytes=1000-1999\r\n")
        #expect(r.status == 206)
        #expect(r.header("Content-Range") == "bytes 1000-1999/\(FileTree.big.count)")
        #expect(r.body == Array(FileTree.big[1000...1999]))
        let tail = try fetch("/static/Big.BIN", "Range: bytes=-10\r\n")
        #expect(tail.status == 206 && tail.body == Array(FileTree.big.suffix(10)))
        let beyond = try fetch("/static/a.txt", "Range: bytes=100-\r\n")
        #expect(beyond.status == 416 && beyond.header("Content-Range") == "bytes */6")
        let several = try fetch("/static/a.txt", "Range: bytes=0-1,3-4\r\n")
        #expect(several.status == 200 && several.text == "alpha\n")
        let head = try fetch("/static/a.txt", "Range: bytes=0-1\r\n", head: true)
        #expect(head.status == 200, "Range applies to GET only")
    }

    @Test func ifRangeGuardsTheRange() throws {
        let etag = try fetch("/static/a.txt").header("ETag")!
        let matching = try fetch("/static/a.txt", "Range: bytes=0-1\r\nIf-Range: \(etag)\r\n")
        #expect(matching.status == 206 && matching.text == "al")
        let stale = try fetch("/static/a.txt", "Range: bytes=0-1\r\nIf-Range: \"stale\"\r\n")
        #expect(stale.status == 200 && stale.text == "alpha\n")
        let weak = try fetch("/static/a.txt", "Range: bytes=0-1\r\nIf-Range: W/\(etag)\r\n")
        #expect(weak.status == 200)
    }

    @Test func indexesAndDirectories() throws {
        #expect(try fetch("/static/").text == "<h1>home</h1>\n")
        #expect(try fetch("/static/sub/").text == "<p>sub</p>\n")
        let redirect = try fetch("/static/sub")
        #expect(redirect.status == 301 && redirect.header("Location") == "/static/sub/")
        #expect(try fetch("/static/empty/").status == 404)  // no index, and never a listing
        #expect(try fetch("/static/index.html").header("Content-Type") == "text/html; charset=utf-8")
        #expect(try fetch("/static/a.txt/").status == 404)
        #expect(try fetch("/static/nothing-here").status == 404)
    }

    @Test func nothingOutsideTheRootCanBeReached() throws {
        let attempts = [
            "/static/../outside.txt", "/static/%2e%2e/outside.txt", "/static/%2E%2E/outside.txt", "/static/sub/../../outside.txt",
            "/static/..%2foutside.txt", "/static/sub/%2e%2e%2f%2e%2e%2foutside.txt", "/static/escape.txt",
            "/static/etc/hostname", "/static/etc/passwd", "/static//etc/passwd", "/static/.secret", "/static/%2esecret",
        ]
        for path in attempts {
            let r = try fetch(path)
            #expect(r.status == 404, "\(path): \(r.status)")
            #expect(!r.text.contains("top secret") && !r.text.contains("root:"), "\(path)")
        }
        for path in ["/static/a%00.txt", "/static/a.txt%00", "/static/%zz", "/static/%2"] {
            #expect(try fetch(path).status == 400, "\(path)")
        }
        // Links and dots that stay inside are fine.
        #expect(try fetch("/static/link.txt").text == "alpha\n")
        #expect(try fetch("/static/./sub/./index.html").text == "<p>sub</p>\n")
        #expect(try fetch("/static/sub//index.html").text == "<p>sub</p>\n")
        #expect(try fetch("/static/%61.txt").text == "alpha\n")
    }

    @Test func theDirectoryMustExist() {
        #expect(throws: ConfigurationError.self) { try Router().files("/x", directory: "/nonexistent-gust-dir") }
    }
}
