import GustCore
import GustIO

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
    /// A handler's response ends with a file: the connection takes the transfer (and its
    /// descriptor); its head is written first, then the file with `sendfile`.
    func startFile(_ c: UnsafeMutablePointer<Connection>, _ transfer: FileTransfer) {
        precondition(c.pointee.file == nil, "one file at a time per connection")
        let lease: UnsafeMutablePointer<FileTransfer>
        if let cached = freeFileLeases.popLast() {
            lease = cached
        } else {
            lease = .allocate(capacity: 1)
        }
        lease.initialize(to: transfer)
        c.pointee.file = lease
    }

    /// Moves the file a response ends with (if any) from the writer to the connection.
    func takeFile(_ c: UnsafeMutablePointer<Connection>, _ writer: inout ResponseWriter) {
        guard let file = writer.file else { return }
        writer.file = nil
        startFile(c, file)
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
                        close(id, c)
                        return .closed
                    }
                    file.pointee.remaining -= Int64(n)
                    c.pointee.since = nowNanoseconds
                case .wouldBlock:
                    return .blocked
                }
            } catch {
                close(id, c)
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
        file.deinitialize(count: 1)
        if freeFileLeases.count < Self.maximumCachedLeases {
            freeFileLeases.append(file)
        } else {
            file.deallocate()
        }
    }
}
