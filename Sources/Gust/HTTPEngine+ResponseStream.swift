import GustCore
import GustHTTP1

extension HTTPEngine {
    /// A handler started a streamed response: remember it so the drain waiter and a closing
    /// connection can reach it. (A dictionary: streamed responses are rare next to requests.)
    func noteStream(_ stream: ResponseStream) {
        responseStreams[stream.connection.packed] = stream
    }

    /// Bytes waiting in the connection's output lease.
    func pendingOutput(_ id: SlotID) -> Int {
        connections.pointer(to: id)?.pointee.output?.pointee.readableBytes ?? 0
    }

    /// Writes one piece of a streamed body (a chunk, or raw bytes before a close).
    func streamWrite(_ stream: ResponseStream, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !stream.isFinished, let c = connections.pointer(to: stream.connection),
            c.pointee.deferredSequence == stream.sequence
        else { return false }
        let parked = c.pointee.phase == .awaiting
        // Not parked yet: the handler that started the stream is still running, and its head is
        // in the batch being built. The piece joins that batch, after the head.
        guard parked || handlerDepth > 0 else { return false }
        if stream.isHead || bytes.isEmpty { return true }
        let mark = output.pointee.writerIndex
        switch stream.delimiter {
        case .chunked: ChunkEncoder.appendChunk(bytes, to: &output.pointee)
        case .close: output.pointee.append(bytes)
        }
        guard parked else { return true }
        // Another connection's batch may sit below `mark` in the shared output: emitting from
        // `mark` sends only this piece, and leaves that batch as it was.
        guard emit(stream.connection, c, from: mark) else { return false }
        updateInterest(stream.connection, c)
        return true
    }

    /// Ends a streamed body and resumes the connection, as a deferred response does.
    func streamFinish(_ stream: ResponseStream, trailers: [(String, String)]) {
        guard !stream.isFinished else { return }
        if handlerDepth > 0 {
            // Finishing from inside a handler (maybe the one that started the stream, whose
            // connection is not parked yet): right after the batch under way is written.
            reactor.runSoon { [unowned self] in streamFinish(stream, trailers: trailers) }
            return
        }
        stream.isFinished = true
        responseStreams.removeValue(forKey: stream.connection.packed)
        guard isAwaiting(stream.connection, stream.sequence), let c = connections.pointer(to: stream.connection) else { return }
        let id = stream.connection
        let mark = output.pointee.writerIndex
        if stream.delimiter == .chunked && !stream.isHead {
            var lines = ""
            for (name, value) in trailers where Self.isTrailerSafe(name, value) { lines += "\(name): \(value)\r\n" }
            lines.withUTF8Bytes { ChunkEncoder.appendEnd(trailers: UnsafeRawBufferPointer($0), to: &output.pointee) }
        }
        c.pointee.phase = c.pointee.deferredKeepAlive && stream.delimiter == .chunked ? .open : .closing
        guard emit(id, c, from: mark) else { return }
        if c.pointee.phase == .open && c.pointee.output == nil && c.pointee.file == nil && c.pointee.input != nil {
            serveLease(id, c)
        } else {
            settleConnection(id, c)
        }
    }

    /// The output of a connection with a streamed response drained: run its waiter.
    func streamDrained(_ id: SlotID) {
        guard let stream = responseStreams[id.packed], let waiter = stream.drainHandler else { return }
        stream.drainHandler = nil
        waiter()
    }

    /// Trailer fields must be tokens with safe values, and not framing or routing fields.
    static func isTrailerSafe(_ name: String, _ value: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(ResponseWriter.isToken) && value.utf8.allSatisfy(ResponseWriter.isFieldByte)
            && !["content-length", "transfer-encoding", "host", "connection", "trailer"].contains(name.lowercased())
    }
}
