@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

extension HTTPEngine {
    /// An input lease with room for at least `capacity` bytes.
    func takeInputLease(capacity: Int) -> UnsafeMutablePointer<InputLease> {
        let size = inputLeaseSize, headerCapacity = limits.maxHeaderCount
        let lease = inputLeases.take { InputLease(capacity: size, headerCapacity: headerCapacity) }
        if lease.pointee.buffer.capacity < capacity { lease.pointee.buffer.grow(minimumCapacity: capacity) }
        return lease
    }

    /// Gives an input lease back (its body stream, if any, must have been dealt with).
    func releaseInputLease(_ lease: UnsafeMutablePointer<InputLease>) {
        let size = inputLeaseSize
        let bytes = lease.pointee.buffer.capacity + lease.pointee.headerCapacity * MemoryLayout<HeaderSlot>.stride
        let freed = inputLeases.give(lease) { lease in
            if lease.buffer.capacity > size { lease.buffer.shrink(to: size) }
            lease.buffer.clear()
            lease.parser.pointee.reset()
            lease.stream = nil
        }
        if freed { noteFreed(bytes) }
    }

    /// An output lease holding a copy of `bytes`.
    func takeOutputLease(copying bytes: UnsafeRawBufferPointer) -> UnsafeMutablePointer<ByteBuffer> {
        let size = outputLeaseSize
        let lease = outputLeases.take { ByteBuffer(capacity: size) }
        lease.pointee.append(bytes)
        return lease
    }

    func releaseOutputLease(_ lease: UnsafeMutablePointer<ByteBuffer>) {
        let size = outputLeaseSize
        let bytes = lease.pointee.capacity
        let freed = outputLeases.give(lease) { buffer in
            if buffer.capacity > size { buffer.shrink(to: size) }
            buffer.clear()
        }
        if freed { noteFreed(bytes) }
    }

    /// Counts freed buffer bytes; past 1 MiB (a burst of connections went away), a second
    /// later the lease caches shrink to a warm few and the heap is trimmed, so memory goes
    /// back to the kernel instead of staying at the burst's high-water mark.
    func noteFreed(_ bytes: Int) {
        freedSinceTrim += bytes
        guard freedSinceTrim >= 1 << 20, !trimScheduled else { return }
        trimScheduled = true
        reactor.schedule(after: .seconds(1)) { [unowned self] in
            trimScheduled = false
            freedSinceTrim = 0
            inputLeases.shrinkToWarm()
            outputLeases.shrinkToWarm()
            fileLeases.shrinkToWarm()
            System.releaseFreeMemory()
        }
    }
}
