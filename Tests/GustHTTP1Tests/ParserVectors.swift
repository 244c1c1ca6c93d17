@_spi(GustInternal) import GustHTTP1

/// Requests the parser must accept, and what it must make of them.
let validVectors: [Vector] = [
    Vector("simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(headers: [Pair("Host", "a")]))),
    Vector(
        "wrk's plaintext request", "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
        .head(Head(target: "/plaintext", headers: [Pair("Host", "127.0.0.1:8080")]))),
    Vector(
        "query string", "GET /search?q=gust&page=2 HTTP/1.1\r\nHost: a\r\n\r\n",
        .head(Head(target: "/search?q=gust&page=2", path: "/search", query: .some("q=gust&page=2")))),
    Vector("empty query", "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(target: "/a?", path: "/a", query: .some("")))),
    Vector("no query", "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(target: "/a", query: .some(nil)))),
    Vector(
        "POST with Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        .head(Head(method: .post, target: "/echo", contentLength: 5, length: 51))),
    Vector(
        "zero Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        .head(Head(method: .post, contentLength: 0))),
    Vector(
        "repeated identical Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n",
        .head(Head(method: .post, contentLength: 3))),
    Vector(
        "Content-Length with leading zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
        .head(Head(method: .post, contentLength: 7))),
    Vector(
        "absurd Content-Length saturates", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        .head(Head(method: .post, contentLength: .max))),
    Vector("HTTP/1.0 without Host closes", "GET / HTTP/1.0\r\n\r\n", .head(Head(version: .http1_0, headers: [], keepAlive: false))),
    Vector(
        "HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        .head(Head(version: .http1_0, keepAlive: true))),
    Vector("Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", .head(Head(keepAlive: false))),
    Vector(
        "connection option list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\nUpgrade: websocket\r\n\r\n",
        .head(Head(keepAlive: false, upgrade: true))),
    Vector(
        "close wins over keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive,close\r\n\r\n",
        .head(Head(version: .http1_0, keepAlive: false))),
    Vector(
        "surrounding whitespace trimmed, inner kept", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \t one  two \t\r\n\r\n",
        .head(Head(headers: [Pair("Host", "a"), Pair("X-A", "one  two")]))),
    Vector("empty value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Blank:   \r\n\r\n",
        .head(Head(headers: [Pair("Host", "a"), Pair("X-Empty", ""), Pair("X-Blank", "")]))),
    Vector(
        "obs-text in a value", bytes: Array("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf".utf8) + [0xC3, 0xA9] + Array("\r\n\r\n".utf8),
        .head(Head(headers: [Pair("Host", "a"), Pair("X-Name", "café")]))),
    Vector(
        "empty lines before the request line", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        .head(Head(methodName: "GET"))),
    Vector(
        "unknown method token", "PROPFIND /dav HTTP/1.1\r\nHost: a\r\n\r\n",
        .head(Head(method: .other, methodName: "PROPFIND", target: "/dav"))),
    Vector("methods are case-sensitive", "get / HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(method: .other, methodName: "get"))),
    Vector("HEAD", "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(method: .head))),
    Vector("DELETE", "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(method: .delete, target: "/x"))),
    Vector("PATCH", "PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(method: .patch, target: "/x"))),
    Vector("PUT", "PUT /x HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(method: .put, target: "/x"))),
    Vector("TRACE", "TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(method: .trace, target: "/x"))),
    Vector("later 1.x minor is 1.1", "GET / HTTP/1.9\r\nHost: a\r\n\r\n", .head(Head(version: .http1_1))),
    Vector(
        "absolute-form", "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        .head(Head(target: "http://example.com:8080/a/b?c=d", path: "/a/b", query: .some("c=d")))),
    Vector(
        "absolute-form, https, no path", "GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
        .head(Head(target: "HTTPS://example.com", path: ""))),
    Vector("asterisk-form with OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", .head(Head(method: .options, target: "*"))),
    Vector(
        "authority-form with CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        .head(Head(method: .connect, target: "example.com:443", path: ""))),
    Vector(
        "Expect: 100-continue", "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 9\r\n\r\n",
        .head(Head(method: .put, target: "/f", contentLength: 9, expectContinue: true))),
    Vector(
        "Transfer-Encoding is reported", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        .head(Head(method: .post, transferEncoding: true))),
    Vector(
        "Transfer-Encoding is case-insensitive, with empty list elements",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , CHUNKED ,\r\n\r\n",
        .head(Head(method: .post, transferEncoding: true))),
    Vector(
        "pipelined: only the first request", "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        .head(Head(target: "/1", length: 28))),
    Vector(
        "IPv6 literal Host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", .head(Head(headers: [Pair("Host", "[::1]:8080")]))),
    Vector("empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", .head(Head(headers: [Pair("Host", "")]))),
    Vector(
        "header count at the limit",
        "GET / HTTP/1.1\r\nHost: a\r\n" + (1..<4).map { "X-\($0): v\r\n" }.joined() + "\r\n",
        .head(Head()), limits: RequestLimits(maxHeaderCount: 4)),
    Vector(
        "request line exactly at the limit", "GET /" + String(repeating: "a", count: 13) + " HTTP/1.1\r\nHost: a\r\n\r\n",
        .head(Head(target: "/" + String(repeating: "a", count: 13))), limits: RequestLimits(maxRequestLineBytes: 29)),
    Vector(
        "token characters in names", "GET / HTTP/1.1\r\nHost: a\r\nX-!#$%&'*+-.^_`|~09az: v\r\n\r\n",
        .head(Head(headers: [Pair("Host", "a"), Pair("X-!#$%&'*+-.^_`|~09az", "v")]))),
    Vector(
        "percent-encoded target kept as sent", "GET /a%20b/%2e%2e HTTP/1.1\r\nHost: a\r\n\r\n",
        .head(Head(target: "/a%20b/%2e%2e"))),
]

/// Requests the parser must reject, and why.
let invalidVectors: [Vector] = [
    Vector("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidMethod)),
    Vector("non-token in method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidMethod)),
    Vector("tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidMethod)),
    Vector("too many empty lines first", String(repeating: "\r\n", count: 9) + "GET / HTTP/1.1\r\n\r\n", .error(.invalidMethod)),
    Vector("bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidMethod)),
    Vector("missing target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
    Vector("space inside target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidVersion)),
    Vector("control character in target", "GET /a\u{01}b HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
    Vector("DEL in target", "GET /a\u{7f} HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
    Vector(
        "non-ASCII in target", bytes: Array("GET /caf".utf8) + [0xC3, 0xA9] + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8),
        .error(.invalidTarget)),
    Vector("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
    Vector("absolute-form without authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
    Vector("asterisk-form with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTargetForm)),
    Vector("origin-form with CONNECT", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTargetForm)),
    Vector("lower-case protocol name", "GET / http/1.1\r\nHost: a\r\n\r\n", .error(.invalidVersion)),
    Vector("missing minor version", "GET / HTTP/1\r\nHost: a\r\n\r\n", .error(.invalidVersion)),
    Vector("two-digit minor version", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", .error(.invalidVersion)),
    Vector("HTTP/2.0 over HTTP/1", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", .error(.versionNotSupported)),
    Vector("HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", .error(.versionNotSupported)),
    Vector("HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .error(.versionNotSupported)),
    Vector("bare LF ends the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", .error(.invalidLineEnding)),
    Vector("bare CR ends the request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", .error(.invalidLineEnding)),
    Vector("bare LF ends a field line", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", .error(.invalidLineEnding)),
    Vector("bare CR inside a field line", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", .error(.invalidLineEnding)),
    Vector("bare LF ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", .error(.invalidLineEnding)),
    Vector("CR without LF ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\rX", .error(.invalidLineEnding)),
    Vector("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", .error(.obsoleteLineFolding)),
    Vector("whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", .error(.obsoleteLineFolding)),
    Vector("whitespace before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", .error(.whitespaceBeforeColon)),
    Vector("tab before the colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", .error(.whitespaceBeforeColon)),
    Vector("empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", .error(.invalidHeaderName)),
    Vector("non-token in a field name", "GET / HTTP/1.1\r\nHost: a\r\nX@Y: v\r\n\r\n", .error(.invalidHeaderName)),
    Vector("field line without a colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", .error(.invalidHeaderName)),
    Vector("NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", .error(.invalidHeaderValue)),
    Vector("DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7f}b\r\n\r\n", .error(.invalidHeaderValue)),
    Vector("escape in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: \u{1b}[31m\r\n\r\n", .error(.invalidHeaderValue)),
    Vector("missing Host on 1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n", .error(.missingHost)),
    Vector("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", .error(.duplicateHost)),
    Vector("two Host fields on 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", .error(.duplicateHost)),
    Vector("space inside Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .error(.invalidHost)),
    Vector("path in Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", .error(.invalidHost)),
    Vector("userinfo in Host", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", .error(.invalidHost)),
    Vector("empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", .error(.invalidContentLength)),
    Vector("negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", .error(.invalidContentLength)),
    Vector("signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", .error(.invalidContentLength)),
    Vector("hex Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", .error(.invalidContentLength)),
    Vector(
        "Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", .error(.invalidContentLength)),
    Vector(
        "Content-Length with inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n",
        .error(.invalidContentLength)),
    Vector(
        "differing Content-Lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        .error(.conflictingContentLength)),
    Vector(
        "Content-Length with Transfer-Encoding",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        .error(.contentLengthWithTransferEncoding)),
    Vector(
        "Transfer-Encoding then Content-Length",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        .error(.contentLengthWithTransferEncoding)),
    Vector(
        "Transfer-Encoding with Content-Length: 0",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
        .error(.contentLengthWithTransferEncoding)),
    Vector(
        "final coding not chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        .error(.chunkedNotFinal)),
    Vector(
        "only a coding other than chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        .error(.chunkedNotFinal)),
    Vector(
        "identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
        .error(.chunkedNotFinal)),
    Vector(
        "a later line makes the final coding not chunked",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        .error(.chunkedNotFinal)),
    Vector(
        "chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        .error(.invalidTransferEncoding)),
    Vector(
        "chunked twice over two lines",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        .error(.invalidTransferEncoding)),
    Vector(
        "chunked with a parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
        .error(.invalidTransferEncoding)),
    Vector(
        "coding that is not a token", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun\"ked\"\r\n\r\n",
        .error(.invalidTransferEncoding)),
    Vector(
        "codings without a comma", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip chunked\r\n\r\n",
        .error(.invalidTransferEncoding)),
    Vector(
        "empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
        .error(.invalidTransferEncoding)),
    Vector(
        "Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        .error(.transferEncodingInHTTP10)),
    Vector(
        "gzip before chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        .error(.unsupportedTransferCoding)),
    Vector(
        "a coding with parameters before chunked",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x-custom;a=\"1,2\";b=c, chunked\r\n\r\n",
        .error(.unsupportedTransferCoding)),
    Vector(
        "request line over the limit", "GET /" + String(repeating: "a", count: 14) + " HTTP/1.1\r\nHost: a\r\n\r\n",
        .error(.requestLineTooLong), limits: RequestLimits(maxRequestLineBytes: 29)),
    Vector(
        "endless request line", "GET /" + String(repeating: "a", count: 100),
        .error(.requestLineTooLong), limits: RequestLimits(maxRequestLineBytes: 64)),
    Vector(
        "header section over the limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 60) + "\r\n\r\n",
        .error(.headerSectionTooLarge), limits: RequestLimits(maxHeaderBytes: 64)),
    Vector(
        "endless field line", "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 100),
        .error(.headerSectionTooLarge), limits: RequestLimits(maxHeaderBytes: 64)),
    Vector(
        "too many fields", "GET / HTTP/1.1\r\nHost: a\r\n" + (1...4).map { "X-\($0): v\r\n" }.joined() + "\r\n",
        .error(.tooManyHeaders), limits: RequestLimits(maxHeaderCount: 4)),
]
