@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO
import Synchronization

/// `ServerConfiguration.requestRatePerClient`, for the whole process: one token bucket (a GCRA
/// arrival time) per client address, in a fixed table split into 16 shards, each behind its
/// own lock, so that reactors rarely meet. A client's connections may land on any reactor; its
/// bucket is the same.
///
/// Threading: any reactor thread. Cost per request: a hash, an uncontended lock, at most 8
/// slot reads. Memory: 16 bytes per tracked client, allocated at start.
final class ClientRateLimiter: Sendable {
    final class Shard: Sendable {
        let table: Mutex<RateTable>
        init(capacity: Int) { table = Mutex(RateTable(capacity: capacity)) }
    }

    let rate: GCRA
    let limit: RateLimit
    let shards: [Shard]

    init(limit: RateLimit, clients: Int) {
        self.limit = limit
        rate = GCRA(perSecond: limit.perSecond, burst: limit.burst)
        let each = max(8, (clients + 15) / 16)
        shards = (0..<16).map { _ in Shard(capacity: each) }
    }

    /// Takes a token for a request from `client` at `now`: nil when admitted, else the
    /// nanoseconds until the client may try again.
    func admit(_ client: ClientKey, now: Int64) -> Int64? {
        // The shard from the key's top bits after mixing (the table mixes again for the slot).
        let shard = shards[Int(truncatingIfNeeded: (client.raw &* 0x9E37_79B9_7F4A_7C15) >> 60)]
        return shard.table.withLock { $0.admit(client.raw, now: now, rate: rate) }
    }
}
