/// A file (or a range of one) being sent with `sendfile` after a response head: the open
/// descriptor, where the next byte comes from, and how many are left. Leased from a small
/// per-reactor pool only while a transfer is under way.
///
/// Threading: owned by one reactor.
struct FileTransfer {
    var fd: Int32 = -1
    var offset: Int64 = 0
    var remaining: Int64 = 0
}
