@_spi(GustInternal) import Gust
@_spi(GustInternal) import GustHTTP1
import Testing

@Suite struct RouterTests {
    /// A table whose handlers are never called: these tests look only at the match.
    func table(_ routes: [(HTTPMethod, String)]) -> RouteTable {
        let router = Router()
        for (method, pattern) in routes { router.on(method, pattern) { _, res in res.send("x") } }
        return router.compile()
    }

    /// Routes `path` and returns the matched pattern and its captures as strings.
    func route(_ t: RouteTable, _ method: HTTPMethod, _ path: String) -> (String?, [String], RouteMatch.Outcome) {
        let bytes = Array(path.utf8)
        return bytes.withUnsafeBufferPointer { p in
            let m = t.match(method: method, path: p, pathOffset: 0)
            var captures: [String] = []
            for i in 0..<m.captureCount {
                let (offset, length) = m.capture(i)
                captures.append(String(decoding: bytes[offset..<offset + length], as: UTF8.self))
            }
            if case .route(let index) = m.outcome { return (t.pattern(of: index), captures, m.outcome) }
            return (nil, captures, m.outcome)
        }
    }

    let demo: [(HTTPMethod, String)] = [
        (.get, "/"), (.get, "/plaintext"), (.get, "/users/:id"), (.get, "/users/me"), (.post, "/users/:id/posts"),
        (.get, "/users/:id/posts/:post"), (.get, "/static/*"), (.get, "/a/:x/c"), (.get, "/a/b/d"), (.delete, "/users/:id"),
    ]

    @Test func staticRoutes() {
        let t = table(demo)
        #expect(route(t, .get, "/").0 == "/")
        #expect(route(t, .get, "/plaintext").0 == "/plaintext")
        #expect(route(t, .get, "/plaintext/").2 == .notFound, "trailing slashes matter")
        #expect(route(t, .get, "/plain").2 == .notFound)
        #expect(route(t, .get, "").0 == "/", "an empty path is /")
    }

    @Test func parametersAndPrecedence() {
        let t = table(demo)
        let (pattern, captures, _) = route(t, .get, "/users/42")
        #expect(pattern == "/users/:id" && captures == ["42"])
        #expect(route(t, .get, "/users/me").0 == "/users/me", "literal beats parameter")
        #expect(route(t, .get, "/users/").2 == .notFound, "parameters are never empty")
        let deep = route(t, .get, "/users/7/posts/99")
        #expect(deep.0 == "/users/:id/posts/:post" && deep.1 == ["7", "99"])
    }

    @Test func backtracksFromADeadEndLiteral() {
        let t = table(demo)
        let r = route(t, .get, "/a/b/c")
        #expect(r.0 == "/a/:x/c" && r.1 == ["b"])
        #expect(route(t, .get, "/a/b/d").0 == "/a/b/d")
    }

    @Test func wildcardTakesTheRest() {
        let t = table(demo)
        #expect(route(t, .get, "/static/css/site.css").1 == ["css/site.css"])
        #expect(route(t, .get, "/static/").1 == [""])
        let bare = route(t, .get, "/static")
        #expect(bare.0 == "/static/*" && bare.1 == [""])
    }

    @Test func methods() {
        let t = table(demo)
        #expect(route(t, .delete, "/users/1").0 == "/users/:id")
        #expect(route(t, .head, "/plaintext").0 == "/plaintext", "HEAD falls back to GET")
        if case .methodNotAllowed = route(t, .post, "/plaintext").2 {} else { Issue.record("POST on a GET-only route is 405") }
        #expect(route(t, .post, "/users/1/posts").0 == "/users/:id/posts")
        if case .methodNotAllowed = route(t, .get, "/users/1/posts").2 {} else { Issue.record("GET on a POST-only route is 405") }
    }

    @Test func capturesAreOffsetsIntoTheRequest() {
        let t = table(demo)
        let bytes = Array("/users/42".utf8)
        bytes.withUnsafeBufferPointer { p in
            let m = t.match(method: .get, path: p, pathOffset: 100)
            #expect(m.capture(0) == (offset: 107, length: 2))
        }
    }

    @Test func rejectsTargetsThatAreNotPaths() {
        let t = table(demo)
        #expect(route(t, .options, "*").2 == .notFound)
    }

    @Test func reRegisteringReplaces() {
        let router = Router()
        router.get("/x") { _, res in res.send("one") }
        router.get("/x") { _, res in res.send("two") }
        #expect(router.compile().count == 1)
    }
}
