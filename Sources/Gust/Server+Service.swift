@_spi(GustInternal) import GustIO
import ServiceLifecycle
import Synchronization

/// A `Server` is a swift-service-lifecycle `Service`: an application runs it in a
/// `ServiceGroup` beside its own services, and they stop together.
///
///     let group = ServiceGroup(configuration: .init(
///         services: [server, metricsExporter], gracefulShutdownSignals: [.sigterm], logger: logger))
///     try await group.run()
///
/// `run()` starts the server (unless it is running already) and serves until the group shuts
/// down gracefully, then stops
/// gracefully (`stopGracefully`: requests under way finish within `shutdownGracePeriod`); if the
/// task is cancelled instead, or while it stops, it stops at once.
extension Server: Service {
    public func run() async throws {
        if port == nil { try start() }
        do {
            try await gracefulShutdown()
        } catch {
            shutdown()  // cancelled: at once
            throw error
        }
        let cancelled = Atomic<Bool>(false)
        await withTaskCancellationHandler {
            // The stop waits (polling its reactors) on a thread of its own, not the pool's.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                OSThread.spawn(name: "gust-stop") {
                    self.stopGracefully(interrupted: { timeout in
                        Parker().park(timeout: timeout)
                        return cancelled.load(ordering: .relaxed)
                    })
                    done.resume()
                }.detach()
            }
        } onCancel: {
            cancelled.store(true, ordering: .relaxed)
        }
    }
}
