import HTTPTypes

/// An error that is an answer: a handler of either tier throws it and the client gets this
/// status, message (as `text/plain`) and headers. Any other error a handler throws becomes a
/// 500 that names the request (`RequestID`), and is logged with it.
///
///     guard let id = req.queryInt("id") else { throw HTTPError(.badRequest, "id must be a number") }
///
/// A trap (`fatalError`, `try!`, an overflow, a force-unwrapped nil) is not an error: it ends the
/// process and every connection in it. Run with `--processes N` so that a supervisor restarts
/// the worker (see docs/operations.md once it exists; until then, run under a process manager).
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// The body, sent as `text/plain; charset=utf-8` with a final newline; empty for none.
    public var message: String
    public var headerFields: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String = "", headerFields: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headerFields = headerFields
    }

    public var description: String {
        message.isEmpty ? "\(status.code) \(status.reasonPhrase)" : "\(status.code) \(status.reasonPhrase): \(message)"
    }

    /// The response this error is.
    public var response: Response {
        let text = message.isEmpty ? "\(status.reasonPhrase)\n" : message.hasSuffix("\n") ? message : message + "\n"
        var response = Response(status: status, headerFields: headerFields, body: .string(text))
        if headerFields[.contentType] == nil { response.contentType = .plainTextUTF8 }
        return response
    }
}
