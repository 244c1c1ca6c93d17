@_spi(GustInternal) import GustIO
import Synchronization

/// `ServerConfiguration.maxConnections`, for the whole process: one count of open connections
/// shared by the reactors (an even split would refuse clients while one reactor holds its
/// share and another has room, since the kernel's SO_REUSEPORT hashing is only even on
/// average). A reactor takes a place before each `accept` and gives it back when the connection
/// closes; one that finds no place stops accepting and is woken by the first place freed, on
/// whichever reactor.
///
/// Threading: any reactor. Cost: an atomic add before each accept and one when a connection
/// closes; a lock only while some reactor waits for a place.
final class ConnectionLimit: Sendable {
    let maximum: Int
    let open = Atomic<Int>(0)
    let waitingCount = Atomic<Int>(0)
    let waiting = Mutex<Set<Int>>([])
    let handles: [ReactorHandle]

    init(maximum: Int, handles: [ReactorHandle]) {
        self.maximum = maximum
        self.handles = handles
    }

    /// Takes a place for a connection about to be accepted; false at the limit.
    func take() -> Bool {
        if open.add(1, ordering: .sequentiallyConsistent).oldValue >= maximum {
            open.subtract(1, ordering: .sequentiallyConsistent)
            return false
        }
        return true
    }

    /// Counts a connection that came in another way (handed over in process), limit or not.
    func takeAnyway() {
        open.add(1, ordering: .sequentiallyConsistent)
    }

    /// Reactor `reactor` found no place: it will be woken (its accepting unblocked) when one
    /// frees. True if a place freed meanwhile: it should try again now instead of waiting.
    func wait(reactor: Int) -> Bool {
        if waiting.withLock({ $0.insert(reactor).inserted }) {
            waitingCount.add(1, ordering: .sequentiallyConsistent)
        }
        // A place freed between `take` and here was released before we were listed: look again.
        guard open.load(ordering: .sequentiallyConsistent) < maximum else { return false }
        if waiting.withLock({ $0.remove(reactor) }) != nil {
            waitingCount.subtract(1, ordering: .sequentiallyConsistent)
        }
        return true
    }

    /// Takes a place, or, at the limit, lists `reactor` to be woken when one frees (false).
    /// A place freed while it was being listed is tried for again; if another reactor took it
    /// first, it lists itself again, so that it is never left paused with nobody to wake it.
    func takeOrWait(reactor: Int) -> Bool {
        while !take() {
            guard wait(reactor: reactor) else { return false }
        }
        return true
    }

    /// A counted connection closed (or was never accepted): its place is free; reactors
    /// waiting for one are woken through their queues.
    func release() {
        open.subtract(1, ordering: .sequentiallyConsistent)
        guard waitingCount.load(ordering: .sequentiallyConsistent) > 0 else { return }
        let woken = waiting.withLock { set -> Set<Int> in
            defer { set.removeAll() }
            return set
        }
        guard !woken.isEmpty else { return }
        waitingCount.subtract(woken.count, ordering: .sequentiallyConsistent)
        for reactor in woken where reactor < handles.count {
            handles[reactor].execute { ($0.delegate as? HTTPEngine)?.unblockAccepting(.atLimit) }
        }
    }
}
