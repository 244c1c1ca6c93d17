import Synchronization

/// N reactors, one thread each. Made on the main thread (so descriptor errors surface there),
/// started with a factory that builds each reactor's delegate on the reactor's own thread.
@_spi(GustInternal) public final class ReactorGroup: Sendable {
    public let handles: [ReactorHandle]
    let threads = Mutex<[OSThread]>([])

    public init(count: Int) throws(SystemError) {
        precondition(count > 0, "a group needs at least one reactor")
        var made: [ReactorHandle] = []
        for i in 0..<count { made.append(try ReactorHandle(id: i)) }
        handles = made
    }

    public var count: Int { handles.count }

    /// Starts every reactor. `makeDelegate` runs on each reactor's thread, before its loop.
    public func start(name: String = "gust", _ makeDelegate: @escaping @Sendable (Reactor) -> any ReactorDelegate) {
        let started = handles.map { handle in
            OSThread.spawn(name: "\(name)-r\(handle.id)") {
                let reactor = Reactor(handle: handle)
                reactor.run(delegate: makeDelegate(reactor))
            }
        }
        threads.withLock { $0.append(contentsOf: started) }
    }

    /// Asks every reactor to stop after its current iteration. Callable from any thread.
    public func stop() {
        for handle in handles { handle.execute { $0.stop() } }
    }

    /// Waits for every reactor thread to end.
    public func join() {
        let all = threads.withLock { t -> [OSThread] in
            let taken = t
            t.removeAll()
            return taken
        }
        for thread in all { thread.join() }
    }
}
