/// The outcome of routing one request: which route, and where its captures lie (offsets from
/// the start of the request). Fixed capacity, lives on the stack.
@_spi(GustInternal) public struct RouteMatch {
    public static let capacity = 8

    public enum Outcome: Equatable {
        case route(Int)
        /// The path matched a node with handlers, but none for this method.
        case methodNotAllowed(node: Int)
        case notFound
        /// Not routed: the client is over its request rate (answered 429 by the engine).
        case overRate
    }

    public internal(set) var outcome: Outcome = .notFound
    public internal(set) var captureCount = 0
    @usableFromInline var captures: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    public init() {}

    /// Capture `i` as (offset, length).
    @inlinable public func capture(_ i: Int) -> (offset: Int, length: Int) {
        precondition(i < Self.capacity)
        let packed = withUnsafeBytes(of: captures) { $0.load(fromByteOffset: i * 8, as: UInt64.self) }
        return (Int(packed >> 32), Int(packed & 0xffff_ffff))
    }

    mutating func setCapture(_ i: Int, offset: Int, length: Int) {
        withUnsafeMutableBytes(of: &captures) {
            $0.storeBytes(of: UInt64(offset) << 32 | UInt64(length), toByteOffset: i * 8, as: UInt64.self)
        }
    }
}
