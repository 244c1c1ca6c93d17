/// An owned, growable run of bytes with a read and a write index.
///
/// Bytes `[readerIndex, writerIndex)` are readable; `[writerIndex, capacity)` are writable.
/// Appends grow the storage by doubling (the only allocation); a buffer that starts with a
/// capacity it never exceeds allocates once, when made.
///
/// Threading: not thread-safe; each buffer belongs to one reactor.
/// Unsafe: this file, `Slab` and `LeasePool` are where GustCore touches raw memory. The
/// `unsafe…` accessors hand out pointers for the I/O layer to `read(2)` into and `write(2)`
/// from; any call that grows the buffer invalidates them.
@_spi(GustInternal) public struct ByteBuffer: ~Copyable {
    public private(set) var unsafeBase: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public var readerIndex: Int = 0
    public var writerIndex: Int = 0

    /// Allocates `capacity` bytes (at least 1).
    public init(capacity: Int) {
        self.capacity = max(capacity, 1)
        unsafeBase = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { unsafeBase.deallocate() }

    @inlinable public var readableBytes: Int { writerIndex &- readerIndex }
    @inlinable public var writableBytes: Int { capacity &- writerIndex }
    @inlinable public var isEmpty: Bool { writerIndex == readerIndex }

    /// The readable bytes in place, valid inside `body` only.
    @inlinable public func withUnsafeReadableBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(unsafeReadable)
    }

    /// The readable bytes. Unsafe: valid until the buffer is next mutated (prefer
    /// `withUnsafeReadableBytes`); for the I/O layer's reads and writes.
    @inlinable public var unsafeReadable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: unsafeBase + readerIndex, count: writerIndex &- readerIndex)
    }

    /// The readable bytes, writable in place (for decoding that compacts what it reads).
    /// Unsafe: valid until the buffer is next mutated.
    @inlinable public var unsafeMutableReadable: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: unsafeBase + readerIndex, count: readableBytes)
    }

    /// Start of the writable region (for a `read(2)` into it). Unsafe: valid until the buffer is
    /// next mutated.
    @inlinable public var unsafeWritePointer: UnsafeMutableRawPointer { unsafeBase + writerIndex }

    /// Ensures at least `count` writable bytes, growing (doubling) if needed. Keeps indices.
    @inlinable public mutating func reserveWritable(_ count: Int) {
        if capacity &- writerIndex < count { grow(minimumCapacity: writerIndex &+ count) }
    }

    /// Reallocates to at least `minimumCapacity`, copying the bytes up to `writerIndex`.
    public mutating func grow(minimumCapacity: Int) {
        precondition(minimumCapacity <= Int.max / 2, "a buffer of \(minimumCapacity) bytes")
        var newCapacity = capacity
        while newCapacity < minimumCapacity { newCapacity *= 2 }
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        bigger.copyMemory(from: unsafeBase, byteCount: writerIndex)
        unsafeBase.deallocate()
        unsafeBase = bigger
        capacity = newCapacity
    }

    /// Replaces the storage with a fresh allocation of `capacity` bytes, dropping its contents.
    /// Used to hand back memory after a rare, very large response.
    public mutating func shrink(to capacity: Int) {
        unsafeBase.deallocate()
        self.capacity = max(capacity, 1)
        unsafeBase = .allocate(byteCount: self.capacity, alignment: 16)
        readerIndex = 0
        writerIndex = 0
    }

    @inlinable public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        reserveWritable(n)
        (unsafeBase + writerIndex).copyMemory(from: bytes.baseAddress.unsafelyUnwrapped, byteCount: n)
        writerIndex &+= n
    }

    @inlinable public mutating func append(_ string: StaticString) {
        reserveWritable(string.utf8CodeUnitCount)
        (unsafeBase + writerIndex).copyMemory(from: string.utf8Start, byteCount: string.utf8CodeUnitCount)
        writerIndex &+= string.utf8CodeUnitCount
    }

    @inlinable public mutating func append(_ byte: UInt8) {
        reserveWritable(1)
        unsafeBase.storeBytes(of: byte, toByteOffset: writerIndex, as: UInt8.self)
        writerIndex &+= 1
    }

    /// Appends `value` in decimal. No allocation.
    @inlinable public mutating func appendDecimal(_ value: Int) {
        reserveWritable(20)
        writerIndex &+= DecimalFormatter.write(value, to: unsafeBase + writerIndex)
    }

    /// Makes the readable bytes start at offset 0 (one `memmove` of the readable bytes).
    public mutating func discardReadBytes() {
        let n = readableBytes
        if readerIndex > 0 && n > 0 { unsafeBase.copyMemory(from: unsafeBase + readerIndex, byteCount: n) }
        readerIndex = 0
        writerIndex = n
    }

    /// Forgets all bytes.
    @inlinable public mutating func clear() {
        readerIndex = 0
        writerIndex = 0
    }
}

/// Decimal formatting into raw memory without allocation.
@_spi(GustInternal) public enum DecimalFormatter {
    /// Writes `value` (which may be negative) at `to`; returns the number of bytes written (≤ 20).
    @inlinable public static func write(_ value: Int, to: UnsafeMutableRawPointer) -> Int {
        var v = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, filled from the end
        return withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var i = scratch.count
            repeat {
                i &-= 1
                scratch[i] = UInt8(truncatingIfNeeded: v % 10) &+ 48
                v /= 10
            } while v != 0
            if value < 0 {
                i &-= 1
                scratch[i] = 45  // "-"
            }
            let n = scratch.count &- i
            to.copyMemory(from: scratch.baseAddress.unsafelyUnwrapped + i, byteCount: n)
            return n
        }
    }
}
