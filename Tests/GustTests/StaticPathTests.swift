@testable import Gust
import Testing

@Suite struct StaticPathTests {
    func resolve(_ raw: String, dotFiles: Bool = false, room: Int = 64) -> (StaticPath.Resolution, String) {
        var out = [UInt8](repeating: 0xff, count: room)
        let r = Array(raw.utf8).withUnsafeBufferPointer { raw in
            out.withUnsafeMutableBufferPointer { StaticPath.resolve(raw, into: $0, dotFiles: dotFiles) }
        }
        if case .path(let n, _) = r {
            #expect(out[n] == 0, "NUL-terminated")
            return (r, String(decoding: out[0..<n], as: UTF8.self))
        }
        return (r, "")
    }

    @Test func paths() {
        let cases: [(String, String, Bool)] = [
            ("a.txt", "a.txt", false), ("sub/index.html", "sub/index.html", false), ("", "", true), ("sub/", "sub", true),
            ("./a//b/./c", "a/b/c", false), ("%61%2Fb", "a/b", false), ("caf%C3%A9", "café", false), ("a/.", "a", false),
        ]
        for (raw, path, slash) in cases {
            let (r, got) = resolve(raw)
            #expect(r == .path(length: path.utf8.count, trailingSlash: slash), "\(raw)")
            #expect(got == path, "\(raw)")
        }
    }

    @Test func refusals() {
        for raw in ["..", "../a", "a/../b", "%2e%2e/a", "a/%2E%2e", "..%2fa", ".git/config", "a/.env", "%2eenv"] {
            #expect(resolve(raw).0 == .refused, "\(raw)")
        }
        #expect(resolve(".well-known/x", dotFiles: true).0 == .path(length: 13, trailingSlash: false))
        #expect(resolve("../x", dotFiles: true).0 == .refused)
        for raw in ["a%00", "%0", "%g0", "a%", "%00/a"] {
            #expect(resolve(raw).0 == .badRequest, "\(raw)")
        }
        #expect(resolve(String(repeating: "a", count: 100), room: 64).0 == .tooLong)
    }
}
