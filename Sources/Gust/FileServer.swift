@_spi(GustInternal) import GustCore
@_spi(GustInternal) import GustHTTP1
@_spi(GustInternal) import GustIO

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
        let mount = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        get(mount + "/*") { req, res in root.serve(req, &res) }
        // The mount point named without its slash is a directory URL like any other: redirect it
        // to the slash form (keeping the query), so that its index's relative links resolve.
        if !mount.isEmpty && options.index != nil {
            get(mount) { req, res in
                res.header("Location", mount + "/" + (req.queryString.map { "?" + $0 } ?? ""))
                res.send(.movedPermanently, "Moved Permanently\n")
            }
        }
    }
}

/// One served directory: its open descriptor and options. Immutable; shared by the reactors.
final class FileRoot: Sendable {
    let fd: Int32
    let options: FileServerOptions
    let cacheControl: String?

    /// Longest relative path served (longer ones get 404). Small enough for the path buffer
    /// to live on the stack.
    static let maximumPath = 1023
    /// The index file's name, as bytes.
    let indexName: [UInt8]?

    init(directory: String, options: FileServerOptions) throws {
        do {
            fd = try System.openDirectory(directory)
        } catch {
            throw ConfigurationError("cannot open directory \(directory) to serve files from: \(error)")
        }
        self.options = options
        cacheControl = options.cacheControl
        indexName = options.index.map { Array($0.utf8) }
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
                    guard let index = indexName, append(index, to: path, at: &length) else {
                        return res.send(.notFound, "Not Found\n")
                    }
                }
                open(req, &res, UnsafeBufferPointer(rebasing: path[0..<length]), isDirectoryURL: trailingSlash)
            }
        }
    }

    /// Appends "/name" (or "name" at the start) to the NUL-terminated path.
    func append(_ bytes: [UInt8], to path: UnsafeMutableBufferPointer<UInt8>, at length: inout Int) -> Bool {
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
            res.header("Location", req.path + "/" + (req.queryString.map { "?" + $0 } ?? ""))
            return res.send(.movedPermanently, "Moved Permanently\n")
        }
        guard status.isRegularFile else {
            System.close(file)
            return res.send(.notFound, "Not Found\n")
        }
        respond(req, &res, file, status, MediaTypes.forFile(path))
    }

    func respondToOpenFailure(_ error: SystemError, _ res: inout ResponseWriter) {
        if error.isPermissionDenied {
            res.send(.forbidden, "Forbidden\n")
        } else if error.isNotFound || error.isEscapeAttempt {
            res.send(.notFound, "Not Found\n")  // an escape looks like any missing file
        } else {
            res.send(.internalServerError, "Internal Server Error\n")
        }
    }

    /// Validators, conditionals, ranges, then the body with sendfile. The validators are
    /// formatted on the stack and the request's fields read in place: no allocation unless
    /// `Cache-Control` is set or a range is served.
    func respond(_ req: borrowing Request, _ res: inout ResponseWriter, _ file: Int32, _ status: System.FileStatus, _ type: ContentType) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { etag in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: HTTPDate.length) { lastModified in
                let tag = Self.entityTag(modified: status.modified, size: status.size, into: etag)
                HTTPDate.format(epochSeconds: status.modified, into: lastModified.baseAddress!)
                let date = UnsafeBufferPointer(lastModified)
                res.header("ETag", unsafeBytes: tag)
                res.header("Last-Modified", unsafeBytes: date)
                respond(req, &res, file, status, type, tag, date)
            }
        }
    }

    func respond(
        _ req: borrowing Request, _ res: inout ResponseWriter, _ file: Int32, _ status: System.FileStatus, _ type: ContentType,
        _ etag: UnsafeBufferPointer<UInt8>, _ lastModified: UnsafeBufferPointer<UInt8>
    ) {
        if let cacheControl { res.header("Cache-Control", cacheControl) }
        if isNotModified(req, etag: etag, modified: status.modified) {
            System.close(file)
            return res.send(.notModified)
        }
        res.header("Accept-Ranges", "bytes")
        var range = ByteRange.whole
        if req.method == .get && rangeStillApplies(req, etag: etag, lastModified: lastModified) {
            range = req.withUnsafeHeader("Range") { value in value.map { ByteRange.parse($0, size: status.size) } ?? .whole }
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

    /// `"<mtime hex>-<size hex>"` (as nginx makes them) into `out`; the bytes written.
    static func entityTag(modified: Int64, size: Int64, into out: UnsafeMutableBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var n = 0
        func put(_ c: UInt8) {
            out[n] = c
            n += 1
        }
        func hex(_ v: Int64) {
            let value = UInt64(bitPattern: v)
            var shift = 60
            while shift > 0 && (value >> UInt64(shift)) & 15 == 0 { shift -= 4 }
            while shift >= 0 {
                let d = UInt8((value >> UInt64(shift)) & 15)
                put(d < 10 ? 0x30 + d : 0x57 + d)
                shift -= 4
            }
        }
        put(0x22)
        hex(modified)
        put(0x2d)
        hex(size)
        put(0x22)
        return UnsafeBufferPointer(rebasing: out[0..<n])
    }

    /// RFC 9110 §13.2.2: If-None-Match first (weak comparison); If-Modified-Since only without it.
    func isNotModified(_ req: borrowing Request, etag: UnsafeBufferPointer<UInt8>, modified: Int64) -> Bool {
        let noneMatch: Bool? = req.withUnsafeHeader("If-None-Match") { value in value.map { EntityTags.noneMatchHits($0, tag: etag) } }
        if let noneMatch { return noneMatch }
        return req.withUnsafeHeader("If-Modified-Since") { value in
            guard let value, let since = HTTPDate.parse(value) else { return false }
            return modified <= since
        }
    }

    /// RFC 9110 §13.1.5: a Range with If-Range applies only if the validator still matches
    /// (an entity-tag by strong comparison, or exactly the Last-Modified date).
    func rangeStillApplies(_ req: borrowing Request, etag: UnsafeBufferPointer<UInt8>, lastModified: UnsafeBufferPointer<UInt8>) -> Bool {
        req.withUnsafeHeader("If-Range") { value in
            guard let value else { return true }
            if value.first == 0x22 || value.first == 0x57 { return EntityTags.strongMatch(value, tag: etag) }  // '"' or "W/"
            return value.elementsEqual(lastModified)
        }
    }
}
