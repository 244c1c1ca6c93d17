@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// Something application code asked of a connection, carried out once that code has returned
/// (at the end of the loop iteration, in order): so a callback that answers, writes, finishes
/// or resumes never runs I/O under the feet of the code that called it.
enum EngineWork {
    /// A deferred answer (`DeferredResponse.respond`), for the deferral named by the sequence.
    case answer(SlotID, UInt32, (inout ResponseWriter) -> Void)
    /// An async handler's answer, for the deferral named by the sequence.
    case respond(SlotID, UInt32, Response)
    /// Cancel an async handler's task (its client left, or its deadline passed).
    case cancelTask(Task<Void, Never>)
    /// An async handler's streamed answer: its head goes out, the stream goes back to the task.
    case startStream(SlotID, UInt32, Response, CheckedContinuation<StreamHandOff, Never>)
    /// A response stream whose body failed midway: the connection is closed (the client sees a
    /// truncated body, not a complete wrong one).
    case abortStream(SlotID, UInt32)
    /// An async handler answered before its streamed body ended: the answer goes out now, and
    /// the connection closes after it (the rest of the body is read and dropped).
    case answerBody(SlotID, BodyChannel)
    /// A held `100 Continue` is due: the handler reads its body now.
    case sendContinue(SlotID, BodyStream)
    /// A response stream wrote pieces into the connection's output: write them.
    case flush(SlotID)
    /// A response stream finished (the sequence names it), with its trailer lines.
    case finishStream(SlotID, UInt32, String)
    /// A body handler resumed, or paused outside a delivery.
    case resumeBody(SlotID, BodyStream)
    case pauseBody(SlotID, BodyStream)
    /// Tell a body handler its body will not complete (its connection is gone, or closing).
    case abort(BodyStream, BodyAbort)
    /// A response stream's drain waiter was set with nothing pending: run it if still so.
    case drainCheck(SlotID, UInt32)
}

extension HTTPEngine {
    /// Queues work for the end of this loop iteration. Reactor thread only.
    func enqueue(_ item: EngineWork) {
        work.append(item)
        if !workScheduled {
            workScheduled = true
            reactor.runSoon(runWork)
        }
    }

    /// Carries out the queued work, including work queued meanwhile.
    func performWork() {
        workScheduled = false
        while !work.isEmpty {
            let batch = work
            work.removeAll(keepingCapacity: true)
            updateDate()
            for item in batch { perform(item) }
        }
    }

    func perform(_ item: EngineWork) {
        switch item {
        case .answer(let id, let sequence, let body): performAnswer(id, sequence, body)
        case .respond(let id, let sequence, let response): performAnswer(id, sequence) { $0.send(response) }
        case .cancelTask(let task): task.cancel()
        case .startStream(let id, let sequence, let response, let continuation):
            var started: ResponseStream?
            performAnswer(id, sequence) { started = $0.startStream(for: response) }
            continuation.resume(returning: StreamHandOff(stream: started.flatMap { $0.isFinished ? nil : $0 }))
        case .abortStream(let id, let sequence):
            if isStreaming(id, sequence) { close(id) }
        case .answerBody(let id, let channel): performBodyAnswer(id, channel)
        case .sendContinue(let id, let stream): performContinue(id, stream)
        case .flush(let id): performFlush(id)
        case .finishStream(let id, let sequence, let trailers): performFinish(id, sequence, trailers)
        case .resumeBody(let id, let stream): performResume(id, stream)
        case .pauseBody(let id, let stream): performPause(id, stream)
        case .abort(let stream, let reason): deliverAbort(stream, reason)
        case .drainCheck(let id, let sequence): performDrainCheck(id, sequence)
        }
    }

    // MARK: Deferred answers

    /// Whether connection `id` waits for the deferred answer `sequence`.
    func isAwaiting(_ id: SlotID, _ sequence: UInt32) -> Bool {
        connections.pointer(to: id)?.pointee.machine.isAwaiting(sequence) ?? false
    }

    /// Queues a deferred answer; false when nobody waits for it any more (the client left, or
    /// it was answered, or an answer is already queued). An answer given inside the handler
    /// that defers (before the deferral is recorded: its sequence is the next one) is queued
    /// too: it is carried out once that handler has returned.
    func queueAnswer(_ id: SlotID, _ sequence: UInt32, _ body: @escaping (inout ResponseWriter) -> Void) -> Bool {
        guard canQueueAnswer(id, sequence) else { return false }
        enqueue(.answer(id, sequence, body))
        return true
    }

    /// Queues an async handler's answer (as `queueAnswer`).
    func queueResponse(_ id: SlotID, _ sequence: UInt32, _ response: Response) -> Bool {
        guard canQueueAnswer(id, sequence) else { return false }
        enqueue(.respond(id, sequence, response))
        return true
    }

    func canQueueAnswer(_ id: SlotID, _ sequence: UInt32) -> Bool {
        guard let c = connections.pointer(to: id), answering != id.packed else { return false }
        let machine = c.pointee.machine
        let deferring = machine.sequence &+ 1 == sequence && !machine.isAnswering(machine.sequence)
        guard machine.isAwaiting(sequence) || deferring else { return false }
        for item in work {
            switch item {
            case .answer(let queued, let s, _) where queued == id && s == sequence: return false
            case .respond(let queued, let s, _) where queued == id && s == sequence: return false
            case .startStream(let queued, let s, _, _) where queued == id && s == sequence: return false
            default: continue
            }
        }
        return true
    }

    func performAnswer(_ id: SlotID, _ sequence: UInt32, _ body: (inout ResponseWriter) -> Void) {
        guard let c = connections.pointer(to: id), c.pointee.machine.isAwaiting(sequence) else { return }
        let context = c.pointee.machine.pendingAnswer  // (a stream it starts goes on under the awaited sequence)
        let mark = output.pointee.writerIndex
        answering = id.packed
        var result = callLateAnswer(id, context, body)  // application code
        answering = 0
        guard let c = connections.pointer(to: id) else {
            output.pointee.writerIndex = mark
            return discard(result)
        }
        adopt(&result, id, c, bodyLimit: 0)
        var after = c.pointee.machine.answeredLate(result.answer, now: nowNanoseconds)
        if case .answerForHandler(let keepAlive) = after {
            answerForHandler(id, keepAlive: keepAlive, context)
            after = c.pointee.machine.answeredLate(.responded(keepAlive: keepAlive), now: nowNanoseconds)
        }
        resume(id, c, after, mark)
    }

    /// After a late answer (deferred, or the end of a response stream) is in the output: write
    /// it, then serve what queued up behind it, or close.
    func resume(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>, _ after: AfterLateAnswer, _ mark: Int) {
        dropUnservedInput(c)  // (after `.close`: requests queued behind the answer)
        guard emit(id, c, from: mark) else { return }
        if after == .resume && c.pointee.output == nil && c.pointee.file == nil && c.pointee.input != nil {
            return serveLease(id, c)
        }
        releaseInputIfDone(c)
        settle(id, c)
    }

    // MARK: Response streams

    /// Writes one piece of a streamed body: inside the handler that started the stream, into
    /// the batch under way (after the head); afterwards into the connection's output, written
    /// at the end of the loop turn. Returns false if the stream is finished or its client gone.
    func streamWrite(_ stream: ResponseStream, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !stream.isFinished else { return false }
        guard stream.isAttached else {
            if !stream.isHead && !bytes.isEmpty { stream.append(bytes, to: &output.pointee) }
            return true
        }
        guard let c = connections.pointer(to: stream.connection), c.pointee.machine.isStreamingResponse(stream.sequence) else {
            return false
        }
        if stream.isHead || bytes.isEmpty { return true }
        let lease = c.pointee.output ?? takeOutputLease(copying: UnsafeRawBufferPointer(start: nil, count: 0))
        c.pointee.output = lease
        stream.append(bytes, to: &lease.pointee)
        if !c.pointee.flushQueued {
            c.pointee.flushQueued = true
            enqueue(.flush(stream.connection))
        }
        return true
    }

    /// Bytes waiting in the connection's output.
    func pendingOutput(_ id: SlotID) -> Int {
        connections.pointer(to: id)?.pointee.output?.pointee.readableBytes ?? 0
    }

    func isStreaming(_ id: SlotID, _ sequence: UInt32) -> Bool {
        connections.pointer(to: id)?.pointee.machine.isStreamingResponse(sequence) ?? false
    }

    func performFlush(_ id: SlotID) {
        guard let c = connections.pointer(to: id) else { return }
        c.pointee.flushQueued = false
        // Blocked output goes when the socket has room (epoll says so).
        guard c.pointee.output != nil, !c.pointee.machine.flags.contains(.writeBlocked) else { return }
        writeReady(id, c)
    }

    func performDrainCheck(_ id: SlotID, _ sequence: UInt32) {
        guard let c = connections.pointer(to: id), c.pointee.machine.isStreamingResponse(sequence),
            c.pointee.output == nil
        else { return }  // (pending output: the waiter runs when it has drained)
        notifyDrained(id)  // application code, last
    }

    func performFinish(_ id: SlotID, _ sequence: UInt32, _ trailers: String) {
        guard let c = connections.pointer(to: id), c.pointee.machine.isStreamingResponse(sequence),
            let stream = responseStreams.removeValue(forKey: id.packed)
        else { return }
        let mark = output.pointee.writerIndex
        if stream.delimiter == .chunked && !stream.isHead {
            trailers.withUTF8Bytes { ChunkEncoder.appendEnd(trailers: UnsafeRawBufferPointer($0), to: &output.pointee) }
        }
        stream.drainHandler = nil
        resume(id, c, c.pointee.machine.responseStreamFinished(now: nowNanoseconds), mark)
    }

    // MARK: Body streams

    func performResume(_ id: SlotID, _ stream: BodyStream) {
        guard let c = connections.pointer(to: id), let lease = c.pointee.input, lease.pointee.stream === stream,
            !stream.isPaused, c.pointee.machine.bodyResumed(now: nowNanoseconds)
        else { return }
        if lease.pointee.buffer.isEmpty { return settle(id, c) }
        serveLease(id, c)  // what was kept goes first; then reading resumes
    }

    func performContinue(_ id: SlotID, _ stream: BodyStream) {
        // Not once the body has started anyway (the client did not wait), or is over.
        guard let c = connections.pointer(to: id), c.pointee.input?.pointee.stream === stream, !stream.isFinished,
            stream.bytesReceived == 0
        else { return }
        let mark = output.pointee.writerIndex
        appendContinue()
        finishPass(id, c, mark)
    }

    func performBodyAnswer(_ id: SlotID, _ channel: BodyChannel) {
        guard let stream = channel.stream, let c = connections.pointer(to: id), let lease = c.pointee.input,
            lease.pointee.stream === stream, !stream.isFinished, let response = channel.early
        else { return }  // (answered with a piece or at the end meanwhile, or gone)
        channel.early = nil
        stream.isFinished = true
        let mark = output.pointee.writerIndex
        var closing = c.pointee.machine.pendingAnswer
        closing.keepAlive = false
        var writer = ResponseWriter(engine: self, connection: id, answer: closing, canDefer: false, canStream: false)
        writer.send(response)
        var result = writer.result()
        guard let c = connections.pointer(to: id) else {
            output.pointee.writerIndex = mark
            return discard(result)
        }
        adopt(&result, id, c, bodyLimit: 0)
        _ = c.pointee.machine.pieceDelivered(answered: true, paused: false, last: false, now: nowNanoseconds)
        c.pointee.input?.pointee.stream = nil
        dropUnservedInput(c)
        finishPass(id, c, mark)
    }

    func performPause(_ id: SlotID, _ stream: BodyStream) {
        guard let c = connections.pointer(to: id), c.pointee.input?.pointee.stream === stream, stream.isPaused else { return }
        c.pointee.machine.bodyPaused(now: nowNanoseconds)
        settle(id, c)
    }
}
