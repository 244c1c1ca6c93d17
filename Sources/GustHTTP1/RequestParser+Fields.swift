extension RequestParser {
    /// Applies the rules of the few fields the parser itself must understand, as each field line
    /// completes. Names are matched by length first, so other fields cost one switch.
    @inline(__always)
    mutating func noteField(_ slot: HeaderSlot, _ p: UnsafePointer<UInt8>) -> HTTPParseError? {
        let name = p + Int(slot.nameOffset)
        let value = p + Int(slot.valueOffset)
        let valueLength = Int(slot.valueLength)
        @inline(__always) func named(_ s: StaticString) -> Bool {
            asciiCaseInsensitiveEqual(name, s.utf8Start, s.utf8CodeUnitCount)
        }
        switch slot.nameLength {
        case 4 where named("host"):
            hostCount = hostCount < 2 ? hostCount + 1 : 2
            return Self.isValidHost(value, valueLength) ? nil : .invalidHost
        case 6 where named("expect"):
            if valueLength == 12 && asciiCaseInsensitiveEqual(value, ("100-continue" as StaticString).utf8Start, 12) {
                flags.insert(.expectContinue)
            }
        case 7 where named("upgrade"):
            flags.insert(.upgrade)
        case 10 where named("connection"):
            noteConnectionOptions(value, valueLength)
        case 14 where named("content-length"):
            return noteContentLength(value, valueLength)
        case 17 where named("transfer-encoding"):
            transferCodings.add(value, valueLength)
        default:
            break
        }
        return nil
    }

    /// `Content-Length = 1*DIGIT` (RFC 9110 §8.6). Strict: no sign, no list, no empty value;
    /// repeated fields must agree.
    mutating func noteContentLength(_ value: UnsafePointer<UInt8>, _ n: Int) -> HTTPParseError? {
        guard let length = FieldValues.decimalLength(value, n) else { return .invalidContentLength }
        if contentLength >= 0 && contentLength != length { return .conflictingContentLength }
        contentLength = length
        return nil
    }

    /// Records `close` and `keep-alive` among the comma-separated connection options.
    mutating func noteConnectionOptions(_ value: UnsafePointer<UInt8>, _ n: Int) {
        let options = FieldValues.connectionOptions(value, n)
        if options.close { flags.insert(.connectionClose) }
        if options.keepAlive { flags.insert(.connectionKeepAlive) }
    }

    /// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2): reg-name characters, IP-literal brackets,
    /// percent signs and the port colon. Empty is allowed (a target with no authority).
    /// Cost: a few branch-free operations per byte (no early exit: hosts are short).
    static func isValidHost(_ value: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var valid: UInt64 = 1
        var k = 0
        while k < n {
            valid &= CharacterClass.hostCharBit(value[k])
            k &+= 1
        }
        return valid != 0
    }
}
