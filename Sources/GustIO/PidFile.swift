#if canImport(Glibc)
import Glibc
#endif

/// A PID file: the serving process's id in decimal and a newline, as init scripts, systemd's
/// `PIDFile=` and `gust reload` read it. Written atomically (a temporary file renamed over it),
/// so that a reader never sees half of it; removed only by the process it names.
@_spi(GustInternal) public enum PidFile {
    /// The PID in `path`, or nil (no file, or not a number).
    public static func read(_ path: String) -> Int32? {
        guard let bytes = System.readFile(path) else { return nil }
        return Int32(String(decoding: bytes, as: UTF8.self).trimmingSuffix("\n").trimmingSuffix("\r"))
    }

    /// Writes `pid` to `path` (atomically).
    public static func write(_ path: String, pid: Int32 = Processes.pid) throws(SystemError) {
        let temporary = "\(path).\(pid).tmp"
        try System.writeFile(temporary, Array("\(pid)\n".utf8))
        guard Glibc.rename(temporary, path) == 0 else {
            let error = SystemError(call: "rename(\(path))", errno: errno)
            unlink(temporary)
            throw error
        }
    }

    /// Removes `path` if it still names `pid` (a successor may have written its own).
    public static func removeIfOwned(_ path: String, pid: Int32 = Processes.pid) {
        if read(path) == pid { unlink(path) }
    }
}
