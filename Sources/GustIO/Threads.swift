@_spi(GustInternal) import GustCore
#if canImport(Glibc)
import Glibc
#endif
import CGustSystem

/// A joinable OS thread running one closure (reactor threads are plain pthreads: no executor,
/// no Foundation).
@_spi(GustInternal) public struct OSThread: Sendable {
    let id: pthread_t

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// The calling thread's ID (`pthread_self`), never 0.
    public static var currentID: UInt { UInt(pthread_self()) }

    /// Starts a thread named `name` (at most 15 bytes are kept) running `body`. The thread
    /// blocks SIGPIPE: a peer that goes away makes its writes (`send`, `sendfile`) fail with
    /// EPIPE, however the process set up its signals, instead of killing the process.
    public static func spawn(name: String, _ body: @escaping @Sendable () -> Void) -> OSThread {
        let box = Unmanaged.passRetained(Box {
            cgust_set_thread_name(name)
            cgust_block_sigpipe()
            body()
        }).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return OSThread(id: tid)
    }

    /// Waits for the thread to finish.
    public func join() {
        _ = pthread_join(id, nil)
    }

    /// Lets the thread free itself when it ends (for a thread nobody will join).
    public func detach() {
        _ = pthread_detach(id)
    }
}

/// Process-wide signal handling: the termination signals are blocked in every thread and taken
/// synchronously by one waiting thread, so no handler ever runs inside a reactor.
@_spi(GustInternal) public enum Signals {
    /// Blocks SIGINT, SIGTERM and SIGHUP and ignores SIGPIPE. Call on the main thread before
    /// starting any reactor, so every thread inherits the mask.
    public static func blockTermination() {
        _ = cgust_block_termination_signals()
    }

    /// Waits until SIGINT, SIGTERM or SIGHUP arrives; returns its number.
    public static func waitForTermination() -> Int32 {
        cgust_wait_for_signal()
    }

    /// Waits up to `timeout` for SIGINT, SIGTERM or SIGHUP (blocked beforehand); returns its
    /// number, or nil when the time ran out. Also serves as the main thread's sleep.
    public static func waitForTermination(timeout: Duration) -> Int32? {
        let ms = Int32(clamping: max(0, timeout.nanoseconds / 1_000_000))
        let sig = cgust_wait_for_signal_ms(ms)
        return sig > 0 ? sig : nil
    }

    /// Sends SIGTERM to this process (ends a `waitForTermination` from inside).
    public static func requestTermination() {
        _ = cgust_raise_process(SIGTERM)
    }
}
