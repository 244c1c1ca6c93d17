#if canImport(Glibc)
import Glibc
#endif

/// Who a connection comes from, as far as per-client limits go, in 8 bytes: an IPv4 address
/// (an IPv4-mapped IPv6 one counts as IPv4), or the /64 prefix of an IPv6 address (one
/// subscriber's network usually holds a whole /64: keying by the full address would let one
/// client use 2^64 of them). Anything else (a Unix socket) is `.local`.
@_spi(GustInternal) public struct ClientKey: Hashable, Sendable, CustomStringConvertible {
    public var raw: UInt64

    /// IPv4 keys have the top bit set; IPv6 global unicast prefixes (2000::/3) never do.
    static let ipv4Tag: UInt64 = 1 << 63
    public static let local = ClientKey(raw: 0)

    public init(raw: UInt64) { self.raw = raw }

    /// The key of a peer address returned by `accept`.
    public init(_ storage: sockaddr_storage) {
        var s = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = withUnsafeBytes(of: &s) { $0.load(fromByteOffset: 4, as: UInt32.self) }
            raw = Self.ipv4Tag | UInt64(UInt32(bigEndian: address))
        case AF_INET6:
            let bytes = withUnsafeBytes(of: &s) { Array($0[8..<24]) }
            let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            if mapped {
                raw = Self.ipv4Tag | bytes[12..<16].reduce(0) { $0 << 8 | UInt64($1) }
            } else {
                raw = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            }
        default:
            raw = 0
        }
    }

    /// "203.0.113.7", "2001:db8:1:2::/64", or "local".
    public var description: String {
        if raw == 0 { return "local" }
        if raw & Self.ipv4Tag != 0 {
            let a = UInt32(truncatingIfNeeded: raw)
            return "\(a >> 24).\(a >> 16 & 0xff).\(a >> 8 & 0xff).\(a & 0xff)"
        }
        let groups = (0..<4).map { String(UInt16(truncatingIfNeeded: raw >> (48 - 16 * $0)), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }
}
