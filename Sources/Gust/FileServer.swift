import GustCore
import GustHTTP1
import GustIO

/// How a file route serves its directory.
public struct FileServerOptions: Sendable {
    /// The file served for a directory URL (ending in `/`); nil: such URLs get 404 (there is
    /// never a directory listing). Default "index.html".
    public var index: String? = "index.html"
    /// Serve files and directories whose name starts with "." (`.git`, `.env`, ...). Default false.
    public var dotFiles = false
    /// A `Cache-Control` value for every file response, e.g. "public, max-age=3600". Default none.
    public var cacheControl: String?

    public init(index: String? = "index.html", dotFiles: Bool = false, cacheControl: String? = nil) {
        self.index = index
        self.dotFiles = dotFiles
        self.cacheControl = cacheControl
    }
}

extension Router {
    /// Serves the files under `directory` at `prefix` (GET and HEAD): `files("/static",
    /// directory: "public")` answers `/static/css/site.css` with `public/css/site.css`.
    ///
    /// Responses carry `Content-Type` (by extension), `ETag`, `Last-Modified` and
    /// `Accept-Ranges`; `If-None-Match` / `If-Modified-Since` give 304; a single `Range` gives
    /// 206 (`If-Range` respected) or 416. Bodies go with `sendfile`. Nothing outside the
    /// directory can be reached: `..` (also percent-encoded) is refused, and the file is opened
    /// with openat2(RESOLVE_BENEATH), which also refuses symbolic links that lead out.
    ///
    /// The directory is opened now (throws `ConfigurationError` if it cannot be). Opening and
    /// `fstat` run on the reactor thread: fine for files in the page cache, as in nginx.
    public func files(_ prefix: String, directory: String, options: FileServerOptions = FileServerOptions()) throws {
        let root = try FileRoot(directory: directory, options: options)
        let pattern = prefix.hasSuffix("/") ? prefix + "*" : prefix + "/*"
        get(pattern) { req, res in root.serve(req, &res) }
    }
}

/// One served directory: its open descriptor and options. Immutable; shared by the reactors.
final class FileRoot: Sendable {
    let fd: Int32
    let options: FileServerOptions
    let cacheControl: String?

    /// Longest relative path served.
    static let maximumPath = 4096

    init(directory: String, options: FileServerOptions) throws {
        do {
            fd = try System.openDirectory(directory)
        } catch {
            throw ConfigurationError("cannot open directory \(directory) to serve files from: \(error)")
        }
        self.options = options
        cacheControl = options.cacheControl
        if let index = options.index {
            precondition(!index.isEmpty && !index.contains("/"), "the index file is a plain file name")
        }
    }

    deinit { System.close(fd) }

    /// Answers one request for a file. Reactor thread; a few syscalls (openat2, fstat; the body
    /// later with sendfile), a few small strings for the validators.
    func serve(_ req: borrowing Request, _ res: inout ResponseWriter) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.maximumPath + 1) { path in
            let resolution = req.withRawWildcard { StaticPath.resolve($0, into: path, dotFiles: options.dotFiles) }
            switch resolution {
            case .badRequest:
                res.send(.badRequest, "Bad Request: malformed path\n")
            case .refused, .tooLong:
                res.send(.notFound, "Not Found\n")
            case .path(var length, let trailingSlash):
                if length == 0 || trailingSlash {
                    guard let index = options.index, append(index, to: path, at: &length) else {
                        return res.send(.notFound, "Not Found\n")
                    }
                }
                open(req, &res, UnsafeBufferPointer(rebasing: path[0..<length]), isDirectoryURL: trailingSlash)
            }
        }
    }

    /// Appends "/name" (or "name" at the start) to the NUL-terminated path.
    func append(_ name: String, to path: UnsafeMutableBufferPointer<UInt8>, at length: inout Int) -> Bool {
        let bytes = Array(name.utf8)
        let needed = length + (length > 0 ? 1 : 0) + bytes.count
        guard needed < path.count else { return false }
        if length > 0 {
            path[length] = 0x2f
            length += 1
        }
        for b in bytes {
            path[length] = b
            length += 1
        }
        path[length] = 0
        return true
    }

    func open(_ req: borrowing Request, _ res: inout ResponseWriter, _ path: UnsafeBufferPointer<UInt8>, isDirectoryURL: Bool) {
        let file: Int32
        do {
            file = try path.baseAddress!.withMemoryRebound(to: CChar.self, capacity: path.count + 1) { (p) throws(SystemError) in
                try System.openBeneath(fd, p)
            }
        } catch {
            return respondToOpenFailure(error, &res)
        }
        let status: System.FileStatus
        do {
            status = try System.fileStatus(file)
        } catch {
            System.close(file)
            return res.send(.internalServerError, "Internal Server Error\n")
        }
        if status.isDirectory {
            System.close(file)
            // A directory named without its slash: send the client to the slash form, so that
            // relative links in its index resolve inside it.
            guard !isDirectoryURL, options.index != nil else { return res.send(.notFound, "Not Found\n") }
            res.header("Location", req.path + "/")
            return res.send(.movedPermanently, "Moved Permanently\n")
        }
        guard status.isRegularFile else {
            System.close(file)
            return res.send(.notFound, "Not Found\n")
        }
        respond(req, &res, file, status, MediaTypes.forFile(path))
    }

    func respondToOpenFailure(_ error: SystemError, _ res: inout ResponseWriter) {
        switch error.errno {
        case 13, 1:  // EACCES, EPERM
            res.send(.forbidden, "Forbidden\n")
        case 2, 20, 18, 40, 36:  // ENOENT, ENOTDIR, EXDEV (escape), ELOOP, ENAMETOOLONG
            res.send(.notFound, "Not Found\n")
        default:
            res.send(.internalServerError, "Internal Server Error\n")
        }
    }

    /// Validators, conditionals, ranges, then the body with sendfile.
    func respond(_ req: borrowing Request, _ res: inout ResponseWriter, _ file: Int32, _ status: System.FileStatus, _ type: ContentType) {
        let etag = "\"\(String(status.modified, radix: 16))-\(String(status.size, radix: 16))\""
        let lastModified = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: HTTPDate.length) { out in
            HTTPDate.format(epochSeconds: status.modified, into: out.baseAddress!)
            return String(decoding: out, as: UTF8.self)
        }
        res.header("ETag", etag)
        res.header("Last-Modified", lastModified)
        if let cacheControl { res.header("Cache-Control", cacheControl) }

        if isNotModified(req, etag: etag, modified: status.modified) {
            System.close(file)
            return res.send(.notModified)
        }
        res.header("Accept-Ranges", "bytes")
        var range = ByteRange.whole
        if req.method == .get, let value = req.header("Range"), rangeStillApplies(req, etag: etag, lastModified: lastModified) {
            range = value.withUTF8Bytes { ByteRange.parse($0, size: status.size) }
        }
        switch range {
        case .whole:
            res.sendFile(.ok, contentType: type, descriptor: file, length: status.size)
        case .part(let first, let last):
            res.header("Content-Range", "bytes \(first)-\(last)/\(status.size)")
            res.sendFile(.partialContent, contentType: type, descriptor: file, offset: first, length: last - first + 1)
        case .unsatisfiable:
            System.close(file)
            res.header("Content-Range", "bytes */\(status.size)")
            res.send(.rangeNotSatisfiable, "Range Not Satisfiable\n")
        }
    }

    /// RFC 9110 §13.2.2: If-None-Match first (weak comparison); If-Modified-Since only without it.
    func isNotModified(_ req: borrowing Request, etag: String, modified: Int64) -> Bool {
        if let inm = req.header("If-None-Match") {
            return inm.withUTF8Bytes { value in etag.withUTF8Bytes { EntityTags.noneMatchHits(value, tag: $0) } }
        }
        if let ims = req.header("If-Modified-Since"), let since = ims.withUTF8Bytes({ HTTPDate.parse($0) }) {
            return modified <= since
        }
        return false
    }

    /// RFC 9110 §13.1.5: a Range with If-Range applies only if the validator still matches
    /// (an entity-tag by strong comparison, or exactly the Last-Modified date).
    func rangeStillApplies(_ req: borrowing Request, etag: String, lastModified: String) -> Bool {
        guard let ifRange = req.header("If-Range") else { return true }
        if ifRange.hasPrefix("\"") || ifRange.hasPrefix("W/") {
            return ifRange.withUTF8Bytes { value in etag.withUTF8Bytes { EntityTags.strongMatch(value, tag: $0) } }
        }
        return ifRange == lastModified
    }
}
