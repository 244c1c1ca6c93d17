import FoundationEssentials

/// Turns request bodies into values and values into response bodies. The router's
/// `jsonCoding` is used by `AsyncRequest.decode(as:)`, `Request.decode(as:)` and
/// `Response.json(_:)`; replace it (a faster or differently configured coder) before the server
/// starts.
///
/// Threading: called on reactor threads, concurrently from several: implementations must be
/// thread-safe (Foundation's `JSONEncoder` and `JSONDecoder` are).
public protocol JSONCoding: Sendable {
    /// Decodes `type` from `bytes` (valid only during the call). Errors become 400 answers.
    func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T
    /// Encodes `value` as a response body.
    func encode<T: Encodable>(_ value: T) throws -> ResponseBody
}

/// Foundation's JSON coders, configured as given (by default: Foundation's defaults).
public struct FoundationJSONCoding: JSONCoding {
    public let decoder: JSONDecoder
    public let encoder: JSONEncoder

    public init(decoder: JSONDecoder = JSONDecoder(), encoder: JSONEncoder = JSONEncoder()) {
        self.decoder = decoder
        self.encoder = encoder
    }

    public func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return try decoder.decode(type, from: Data()) }
        // No copy: the bytes are only read during the call.
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
        return try decoder.decode(type, from: data)
    }

    public func encode<T: Encodable>(_ value: T) throws -> ResponseBody {
        .data(try encoder.encode(value))
    }
}

/// What `decode(as:)` does with a request body, for both tiers: 415 unless the content type is
/// JSON (`application/json`, or any `+json` type), 400 naming what was wrong.
enum JSONBody {
    static func decode<T: Decodable>(
        _ type: T.Type, contentType: UnsafeBufferPointer<UInt8>?, body: UnsafeRawBufferPointer, coding: any JSONCoding
    ) throws -> T {
        guard let contentType, isJSON(contentType) else {
            throw HTTPError(.unsupportedMediaType, "the body must be JSON (Content-Type: application/json)")
        }
        do {
            return try coding.decode(type, from: body)
        } catch let error as HTTPError {
            throw error
        } catch let error as DecodingError {
            throw HTTPError(.badRequest, "invalid JSON body: \(describe(error))")
        } catch {
            throw HTTPError(.badRequest, "invalid JSON body: \(error)")
        }
    }

    /// `application/json` or `application/<anything>+json`, any parameters, any case.
    static func isJSON(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = 0
        while end < value.count && value[end] != 0x3b { end += 1 }  // ";"
        var type = String(decoding: UnsafeBufferPointer(rebasing: value[0..<end]), as: UTF8.self).lowercased()
        while type.last == " " || type.last == "\t" { type.removeLast() }
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }

    /// A short account of a decoding error: what, and where in the document.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "the document" : String(keys.drop { $0 == "." })
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return parent == "the document" ? "missing key \"\(key.stringValue)\"" : "\(parent): missing key \"\(key.stringValue)\""
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "malformed JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
