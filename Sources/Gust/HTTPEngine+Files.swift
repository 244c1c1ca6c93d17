@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

/// How a `sendfile` attempt went.
enum FileSendResult {
    /// Every byte is out; the transfer is released.
    case done
    /// The socket is full; the rest goes when it is writable.
    case blocked
    /// Sending failed and the connection was closed.
    case closed
}

extension HTTPEngine {
    /// A response ends with a file: the connection takes the transfer (and its descriptor); its
    /// head is written first, then the file with `sendfile`.
    func startFile(_ c: UnsafeMutablePointer<Connection>, _ transfer: FileTransfer) {
        precondition(c.pointee.file == nil, "one file at a time per connection")
        let lease = fileLeases.take { FileTransfer() }
        lease.pointee = transfer
        c.pointee.file = lease
    }

    /// Sends what the socket takes of the connection's file. Cost: one `sendfile` per call
    /// (more while the socket keeps taking), no copy through user space.
    func sendFile(_ id: SlotID, _ c: UnsafeMutablePointer<Connection>) -> FileSendResult {
        guard let file = c.pointee.file else { return .done }
        while file.pointee.remaining > 0 {
            let chunk = Int(min(file.pointee.remaining, 1 << 30))
            do {
                switch try System.sendFile(c.pointee.fd, from: file.pointee.fd, offset: &file.pointee.offset, count: chunk) {
                case .processed(let n):
                    guard n > 0 else {
                        // The file shrank under us: the promised length cannot be kept.
                        close(id)
                        return .closed
                    }
                    file.pointee.remaining -= Int64(n)
                    c.pointee.machine.writeProgressed(n, now: nowNanoseconds, rules)
                case .wouldBlock:
                    noteWriteBlocked(c)
                    return .blocked
                }
            } catch {
                close(id)
                return .closed
            }
        }
        c.pointee.file = nil
        releaseFile(file)
        return .done
    }

    /// Closes the transfer's file and keeps its record for the next one.
    func releaseFile(_ file: UnsafeMutablePointer<FileTransfer>) {
        if file.pointee.fd >= 0 { System.close(file.pointee.fd) }
        fileLeases.give(file) { $0 = FileTransfer() }
    }
}
