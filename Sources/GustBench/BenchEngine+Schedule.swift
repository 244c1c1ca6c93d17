@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustIO

extension BenchEngine {
    // MARK: Open loop

    /// The intended time of the next request the cursor points at.
    func nextScheduledTime() -> Int64? {
        guard let schedule = plan.schedule, !connections.isEmpty else { return nil }
        return schedule.intendedTime(connection: connections[cursor].globalIndex, request: cycle)
    }

    /// Makes due every request whose intended time has come, in schedule order, and writes
    /// what each connection can take; then arms the timer for the next one.
    func dispatchDue(now: Int64) {
        guard plan.schedule != nil, !sendingStopped else { return }
        while let next = nextScheduledTime(), next <= now {
            if next >= plan.endTime { return stopSending() }
            if next >= plan.measureStart { stats.scheduled += 1 }
            connections[cursor].dueUpTo = cycle + 1
            pump(cursor, now: now)
            cursor += 1
            if cursor == connections.count {
                cursor = 0
                cycle += 1
            }
        }
        armScheduleTimer()
    }

    func armScheduleTimer() {
        guard timerFD >= 0 else { return }
        System.timerfdSet(timerFD, at: sendingStopped ? nil : nextScheduledTime().map { Instant(nanoseconds: $0) })
    }

    // MARK: Sweep

    /// Every 10 ms: time out stalled requests, reset connections the server never closed, and
    /// end the run when its time is up.
    func sweep() {
        let now = System.monotonicNow().nanoseconds
        for i in connections.indices where connections[i].phase == .open {
            if connections[i].inFlight > 0 {
                let oldest = ring[i * depth * 2 + connections[i].ringHead * 2 + 1]
                if now - oldest > timeoutNanoseconds {
                    countInFlightAs(.timeout, i)
                    reconnect(i, resetting: true)
                }
            } else if connections[i].awaitingCloseSince > 0 && now - connections[i].awaitingCloseSince > 1_000_000_000 {
                reconnect(i, resetting: true)
            }
        }
        if now >= plan.endTime { stopSending() }
        if let budget = plan.budget, sentInWindow >= budget { stopSending() }
        if sendingStopped {
            let idle = connections.allSatisfy { $0.inFlight == 0 || $0.phase != .open }
            // In-flight requests get up to the timeout to finish after sending stops. (Measured
            // from `stoppedAt`, a real time: a count run's `endTime` is Int64.max.)
            if idle || now - stoppedAt >= timeoutNanoseconds { finish(now: now) }
        }
    }

    func stopSending() {
        guard !sendingStopped else { return }
        sendingStopped = true
        stoppedAt = System.monotonicNow().nanoseconds
        armScheduleTimer()
    }

    /// Hands this reactor's results over and closes its connections.
    func finish(now: Int64) {
        guard !finished else { return }
        finished = true
        for i in connections.indices where connections[i].fd >= 0 {
            reactor.deregister(connections[i].fd)
            System.close(connections[i].fd)
            connections[i].fd = -1
            connections[i].phase = .idle
        }
        control.reactorFinished(reactor.id, stats)
    }
}
