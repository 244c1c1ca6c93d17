#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered line output for the command-line tool: each call is whole `write(2)`s to fd 1 or
/// 2, so a line is visible to a reader of the pipe at once (no stdio buffering to flush).
@_spi(GustInternal) public enum Console {
    /// Writes `line` and a newline to standard output.
    public static func out(_ line: String) { write(line + "\n", to: 1) }

    /// Writes `line` and a newline to standard error.
    public static func error(_ line: String) { write(line + "\n", to: 2) }

    /// Writes `text` as it is (no newline) to standard output.
    public static func outRaw(_ text: String) { write(text, to: 1) }

    /// Writes `text` as it is (no newline) to standard error: for a progress line redrawn with "\r".
    public static func errorRaw(_ text: String) { write(text, to: 2) }

    /// Whether standard error is a terminal (progress is redrawn in place only then).
    public static var errorIsTerminal: Bool { isatty(2) == 1 }

    static func write(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && Glibc.errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
