@_spi(GustInternal) import GustIO

/// Parses `--source`: one IPv4 address, a range `127.0.0.2-127.0.0.40` (last octet or whole
/// address as the end), or a comma-separated list of those.
public enum SourceAddresses {
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func parse(_ text: String) throws(Invalid) -> [SocketAddress] {
        var result: [SocketAddress] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", maxSplits: 1).map(String.init)
            guard let first = ipv4(bounds[0]) else { throw Invalid(description: "bad source address '\(bounds[0])'") }
            var last = first
            if bounds.count == 2 {
                if let whole = ipv4(bounds[1]) {
                    last = whole
                } else if let octet = UInt32(bounds[1]), octet < 256 {
                    last = first & 0xffff_ff00 | octet
                } else {
                    throw Invalid(description: "bad end of source range '\(bounds[1])'")
                }
            }
            guard last >= first else { throw Invalid(description: "source range '\(part)' runs backwards") }
            guard last - first < 65536 else { throw Invalid(description: "source range '\(part)' is too large") }
            for a in first...last {
                let dotted = "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)"
                do {
                    result.append(try SocketAddress(host: dotted, port: 0))
                } catch {
                    throw Invalid(description: "bad source address \(dotted)")
                }
            }
        }
        guard !result.isEmpty else { throw Invalid(description: "no source addresses in '\(text)'") }
        return result
    }

    static func ipv4(_ s: String) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for p in parts {
            guard let octet = UInt32(p), octet < 256, p.count <= 3 else { return nil }
            value = value << 8 | octet
        }
        return value
    }
}
