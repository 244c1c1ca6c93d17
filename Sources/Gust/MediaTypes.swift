/// Content types for static files, by file extension (lower-cased). Made once; lookups of
/// extensions up to 15 bytes do not allocate.
enum MediaTypes {
    static let byExtension: [String: ContentType] = {
        let table: [(String, String)] = [
            ("html", "text/html; charset=utf-8"), ("htm", "text/html; charset=utf-8"),
            ("css", "text/css; charset=utf-8"), ("js", "text/javascript; charset=utf-8"),
            ("mjs", "text/javascript; charset=utf-8"), ("json", "application/json"),
            ("map", "application/json"), ("txt", "text/plain; charset=utf-8"), ("md", "text/markdown; charset=utf-8"),
            ("csv", "text/csv; charset=utf-8"), ("xml", "application/xml"), ("svg", "image/svg+xml"),
            ("png", "image/png"), ("jpg", "image/jpeg"), ("jpeg", "image/jpeg"), ("gif", "image/gif"),
            ("webp", "image/webp"), ("avif", "image/avif"), ("ico", "image/vnd.microsoft.icon"),
            ("woff", "font/woff"), ("woff2", "font/woff2"), ("ttf", "font/ttf"), ("otf", "font/otf"),
            ("wasm", "application/wasm"), ("pdf", "application/pdf"), ("zip", "application/zip"),
            ("gz", "application/gzip"), ("tar", "application/x-tar"), ("mp4", "video/mp4"), ("webm", "video/webm"),
            ("mp3", "audio/mpeg"), ("ogg", "audio/ogg"), ("wav", "audio/wav"),
        ]
        var map: [String: ContentType] = [:]
        for (ext, type) in table { map[ext] = ContentType(type) }
        return map
    }()

    /// The type for a file name's extension; `application/octet-stream` when unknown.
    static func forFile(_ name: UnsafeBufferPointer<UInt8>) -> ContentType {
        var dot = name.count
        while dot > 0 && name[dot - 1] != 0x2e && name[dot - 1] != 0x2f { dot -= 1 }
        guard dot > 0, name[dot - 1] == 0x2e, dot < name.count, name.count - dot <= 8 else { return .octetStream }
        var ext = ""
        for k in dot..<name.count {
            let c = name[k]
            ext.unicodeScalars.append(Unicode.Scalar(c &- 65 < 26 ? c | 0x20 : c))
        }
        return byExtension[ext] ?? .octetStream
    }
}
