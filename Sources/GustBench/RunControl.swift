import Synchronization

/// Where reactors leave their results: each reactor calls `reactorFinished` once, from its own
/// thread; the main thread polls `results`.
final class RunControl<Stats: Sendable>: Sendable {
    let expected: Int
    let finished = Mutex<[Int: Stats]>([:])

    init(expected: Int) { self.expected = expected }

    func reactorFinished(_ id: Int, _ stats: Stats) {
        finished.withLock { $0[id] = stats }
    }

    /// Every reactor's results once all have finished, else nil.
    var results: [Stats]? {
        finished.withLock { done in
            done.count == expected ? done.keys.sorted().map { done[$0]! } : nil
        }
    }
}
