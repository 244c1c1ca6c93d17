import Gust
import ItemsAPI
#if canImport(Glibc)
import Glibc
#endif

// The items API as a server: `swift run items-api [port]` (default 8080; token from
// ITEMS_TOKEN, default "let-me-in"). Stops on SIGINT or SIGTERM.
let arguments = CommandLine.arguments
var configuration = ServerConfiguration()
configuration.port = arguments.count > 1 ? Int(arguments[1]) ?? 8080 : 8080
let token = getenv("ITEMS_TOKEN").map { String(cString: $0) } ?? "let-me-in"
let server = Server(configuration: configuration, router: ItemsApp.makeRouter(token: token))
try server.run { server in
    print("items-api serving on http://127.0.0.1:\(server.port!)")
    fflush(nil)  // a pipe buffers: whoever started us is waiting for this line
}
