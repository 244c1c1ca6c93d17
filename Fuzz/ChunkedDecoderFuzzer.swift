// libFuzzer harness for the chunked decoder (built by scripts/fuzz.sh). Property: decoding the
// input whole, byte by byte, and in pieces whose sizes the input's first byte picks, gives the
// same verdict, the same data and the same end; data pieces never exceed the input.
@_spi(GustInternal) import GustHTTP1

func decode(_ input: UnsafeRawBufferPointer, step: Int) -> (ChunkedResult, [UInt8], Int) {
    var decoder = ChunkedDecoder(maxExtensionBytes: 64, maxTrailerBytes: 256)
    var data: [UInt8] = []
    var offset = 0
    while offset < input.count {
        let end = min(input.count, offset + step)
        let piece = UnsafeRawBufferPointer(rebasing: input[offset..<end])
        let r = decoder.decode(piece, onData: { bytes in
            if bytes.count > piece.count { fatalError("a data piece longer than its input") }
            data += bytes
        })
        switch r {
        case .needMore, .paused: offset = end
        case .done(let consumed): return (.done(consumed: 0), data, offset + consumed)
        case .invalid: return (r, data, offset)
        }
    }
    return (.needMore, data, input.count)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChunked(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let step = Int(data[0] % 32) + 1
    let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let whole = decode(input, step: max(input.count, 1))
    let bytewise = decode(input, step: 1)
    let stepped = decode(input, step: step)
    for other in [bytewise, stepped] {
        if other.0 != whole.0 || other.1 != whole.1 || (whole.0 == .done(consumed: 0) && other.2 != whole.2) {
            fatalError("whole \(whole) vs pieces \(other)")
        }
    }
    return 0
}
