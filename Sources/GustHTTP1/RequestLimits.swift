/// The size limits a request must respect, each answered with its own status when exceeded.
public struct RequestLimits: Sendable, Equatable {
    /// Longest request line, CRLF included; beyond it, 414 URI Too Long. Default 8 KiB.
    public var maxRequestLineBytes: Int
    /// Largest header section (every field line and the final CRLF); beyond it, 431. Default 16 KiB.
    public var maxHeaderBytes: Int
    /// Most field lines; beyond it, 431. Sizes each header table. Default 100.
    public var maxHeaderCount: Int
    /// Largest `Content-Length` body; beyond it, 413 Content Too Large. Default 1 MiB.
    public var maxBodyBytes: Int

    public init(
        maxRequestLineBytes: Int = 8 * 1024, maxHeaderBytes: Int = 16 * 1024,
        maxHeaderCount: Int = 100, maxBodyBytes: Int = 1024 * 1024
    ) {
        precondition(maxRequestLineBytes >= 16 && maxHeaderBytes >= 2 && maxHeaderCount >= 1 && maxBodyBytes >= 0)
        precondition(maxRequestLineBytes + maxHeaderBytes < Int(UInt32.max) / 2)
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
    }

    /// The largest request head (request line plus header section) these limits allow.
    public var maxHeadBytes: Int { maxRequestLineBytes + maxHeaderBytes }
}
