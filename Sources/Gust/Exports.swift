// What an application needs from the modules below Gust, so that `import Gust` alone is enough
// to write one. Everything else in GustCore, GustIO and GustHTTP1 is the engine's own: it is
// `@_spi(GustInternal)` (or `package`), out of an application's sight.
@_exported import struct GustHTTP1.HTTPStatus
@_exported import enum GustHTTP1.HTTPMethod
@_exported import enum GustHTTP1.HTTPVersion
@_exported import struct GustHTTP1.RequestLimits
@_exported import struct GustIO.SystemError
@_exported import struct GustIO.WorkPoolStats
// swift-http-types: the async tier's vocabulary (HTTPRequest, HTTPResponse, HTTPFields).
@_exported import HTTPTypes
