@_spi(GustInternal) import GustCore
import CGustSystem
#if canImport(Glibc)
import Glibc
#endif

/// Puts one thread to sleep until another wakes it (a POSIX semaphore: a wake-up given before
/// the sleep is not lost; the sleeper then returns at once).
///
/// Threading: `park` from the owning thread; `unpark` from any. Cost: `unpark` is an atomic
/// increment, plus a futex wake only when the owner sleeps.
@_spi(GustInternal) public final class Parker: @unchecked Sendable {
    private let semaphore: UnsafeMutablePointer<sem_t>

    public init() {
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Sleeps until `unpark` (true), or until `timeout` has passed (false). Retries EINTR.
    @discardableResult
    public func park(timeout: Duration? = nil) -> Bool {
        guard let timeout else {
            while sem_wait(semaphore) != 0 {}
            return true
        }
        let deadline = System.monotonicNow().nanoseconds.addingSaturating(max(0, timeout.nanoseconds))  // never wraps into the past
        while true {
            let result = cgust_sem_wait_until(semaphore, deadline)
            if result == 0 { return true }
            if result != EINTR { return false }
        }
    }

    /// Wakes the sleeper (or makes its next `park` return at once).
    public func unpark() {
        sem_post(semaphore)
    }
}
