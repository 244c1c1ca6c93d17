/// A request method. The common ones are recognised while parsing (RFC 9110 §9); any other
/// valid token is `.other` and its bytes stay available in the request line.
public enum HTTPMethod: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case get, head, post, put, delete, options, patch, connect, trace, other

    public var description: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .options: "OPTIONS"
        case .patch: "PATCH"
        case .connect: "CONNECT"
        case .trace: "TRACE"
        case .other: "OTHER"
        }
    }

    /// Recognises a method token (case-sensitive, as RFC 9110 §9.1 requires). Cost: a few compares.
    @inlinable static func recognise(_ p: UnsafePointer<UInt8>, _ n: Int) -> HTTPMethod {
        @inline(__always) func eq(_ s: StaticString) -> Bool {
            s.utf8CodeUnitCount == n && memoryEqual(p, s.utf8Start, n)
        }
        switch n {
        case 3: return eq("GET") ? .get : eq("PUT") ? .put : .other
        case 4: return eq("POST") ? .post : eq("HEAD") ? .head : .other
        case 5: return eq("PATCH") ? .patch : eq("TRACE") ? .trace : .other
        case 6: return eq("DELETE") ? .delete : .other
        case 7: return eq("OPTIONS") ? .options : eq("CONNECT") ? .connect : .other
        default: return .other
        }
    }
}

/// The protocol version of a request: 1.0, or 1.1 (which also stands for any later 1.x,
/// per RFC 9110 §2.5).
public enum HTTPVersion: UInt8, Sendable, CustomStringConvertible {
    case http1_0, http1_1
    public var description: String { self == .http1_0 ? "HTTP/1.0" : "HTTP/1.1" }
}

@inlinable @inline(__always)
func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i &+= 1
    }
    return true
}
