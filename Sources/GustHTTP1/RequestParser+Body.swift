/// What one call to `RequestParser.readBody` found.
@_spi(GustInternal) public enum BodyReadResult: Equatable, Sendable {
    /// The whole body is here, decoded and contiguous at `body` (offsets from the request's
    /// first byte); the request took the first `length` bytes of the input.
    case complete(body: Range<Int>, length: Int)
    /// The body is not complete. Only the first `keep` bytes of the input still matter (for a
    /// chunked body the rest was framing, already decoded); call again with those bytes
    /// followed by the next ones.
    case needMore(keep: Int)
    /// The body is larger than the limit (413).
    case tooLarge
    /// The chunked framing is malformed (400).
    case invalid(ChunkedError)
}

/// What one call to `RequestParser.streamBody` found.
@_spi(GustInternal) public enum BodyStreamResult: Equatable, Sendable {
    /// Every byte was consumed; the body goes on.
    case needMore
    /// The consumer asked to stop after `consumed` bytes; call again with the rest.
    case paused(consumed: Int)
    /// The body ended after `consumed` bytes (what follows is the next request).
    case complete(consumed: Int)
    case tooLarge
    case invalid(ChunkedError)
}

extension RequestParser {
    /// Reads the body of a complete head into one contiguous run of bytes, in place: a
    /// `Content-Length` body is simply waited for; a chunked one is decoded as it arrives, its
    /// data moved down over the framing, so the body ends up right after the head and the
    /// framing costs no memory.
    ///
    /// - Parameters:
    ///   - request: the request's bytes from its first byte (the same bytes `parse` saw, then
    ///     what followed), mutable for the in-place decoding. After `.needMore(keep:)`, pass the
    ///     first `keep` bytes followed by the new ones.
    ///   - maxBodyBytes: the largest body accepted (decoded length).
    /// Cost: chunk data is moved once (one `memmove` per piece); no allocation.
    public mutating func readBody(_ request: UnsafeMutableRawBufferPointer, maxBodyBytes: Int) -> BodyReadResult {
        precondition(phase == .complete, "readBody after a complete head")
        switch bodyFraming {
        case .none, .untilClose:
            return .complete(body: headLength..<headLength, length: headLength)
        case .length(let n):
            // A length no buffer can hold (the limit may be Int.max) is too large, not a trap.
            guard n <= Int64(maxBodyBytes), n <= Int64(Int.max - headLength) else { return .tooLarge }
            let end = headLength + Int(n)
            guard request.count >= end else { return .needMore(keep: request.count) }
            bodyBytesRead = n
            return .complete(body: headLength..<end, length: end)
        case .chunked:
            if bodyRawOffset == 0 { bodyRawOffset = headLength }
            guard let base = request.baseAddress, request.count > bodyRawOffset else { return .needMore(keep: bodyRawOffset) }
            let raw = UnsafeRawBufferPointer(rebasing: request[bodyRawOffset...])
            var decoded = Int(bodyBytesRead)
            var overLimit = false
            let head = headLength
            let result = chunked.decode(raw, until: { piece in
                guard decoded + piece.count <= maxBodyBytes else {
                    overLimit = true
                    return false
                }
                // The destination is never after the source: framing only ever precedes data.
                (base + head + decoded).copyMemory(from: piece.baseAddress!, byteCount: piece.count)
                decoded += piece.count
                return true
            })
            bodyBytesRead = Int64(decoded)
            if overLimit { return .tooLarge }
            switch result {
            case .needMore:
                bodyRawOffset = headLength + decoded
                return .needMore(keep: bodyRawOffset)
            case .done(let consumed):
                return .complete(body: headLength..<headLength + decoded, length: bodyRawOffset + consumed)
            case .invalid(let e):
                return .invalid(e)
            case .paused:
                preconditionFailure("only the body limit pauses this decode")
            }
        }
    }

    /// Streams the body of a complete head to `onData`, piece by piece, without keeping it:
    /// `bytes` are the bytes after what earlier calls consumed (the first call: the bytes after
    /// the head). `onData` returns false to stop after the piece it was given (backpressure).
    /// Cost: no copy; no allocation.
    public mutating func streamBody(
        _ bytes: UnsafeRawBufferPointer, maxBodyBytes: Int, onData: (UnsafeRawBufferPointer) -> Bool
    ) -> BodyStreamResult {
        precondition(phase == .complete, "streamBody after a complete head")
        switch bodyFraming {
        case .none, .untilClose:
            return .complete(consumed: 0)
        case .length(let n):
            guard n <= Int64(maxBodyBytes) else { return .tooLarge }
            let take = Int(min(n - bodyBytesRead, Int64(bytes.count)))
            guard take > 0 else { return bodyBytesRead == n ? .complete(consumed: 0) : .needMore }
            bodyBytesRead += Int64(take)
            let goOn = onData(UnsafeRawBufferPointer(rebasing: bytes[..<take]))
            if bodyBytesRead == n { return .complete(consumed: take) }
            return goOn ? .needMore : .paused(consumed: take)
        case .chunked:
            var delivered = bodyBytesRead
            var overLimit = false
            let result = chunked.decode(bytes, until: { piece in
                guard delivered + Int64(piece.count) <= Int64(maxBodyBytes) else {
                    overLimit = true
                    return false
                }
                delivered += Int64(piece.count)
                return onData(piece)
            })
            bodyBytesRead = delivered
            if overLimit { return .tooLarge }
            switch result {
            case .needMore: return .needMore
            case .done(let consumed): return .complete(consumed: consumed)
            case .paused(let consumed): return .paused(consumed: consumed)
            case .invalid(let e): return .invalid(e)
            }
        }
    }

    /// Whether the body has been read (or streamed) to its end.
    public var isBodyComplete: Bool {
        switch bodyFraming {
        case .none, .untilClose: true
        case .length(let n): bodyBytesRead == n
        case .chunked: chunked.isDone
        }
    }
}
