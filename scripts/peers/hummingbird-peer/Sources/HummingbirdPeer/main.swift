import Hummingbird

// `HummingbirdPeer PORT`: Hummingbird 2 serving what `gust serve` serves on its async routes.
struct Counted: Decodable, Sendable {
    var name: String
    var count: Int
}

struct Doubled: ResponseEncodable, Sendable {
    var name: String
    var count: Int
    var doubled: Int
}

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8080 : 8080
let router = Router()
router.get("/plaintext") { _, _ in "Hello, World!" }
router.get("/async/plaintext") { _, _ in "Hello, World!" }
router.post("/async/json") { request, context -> Doubled in
    let input = try await request.decode(as: Counted.self, context: context)
    let (doubled, overflow) = input.count.multipliedReportingOverflow(by: 2)
    guard !overflow else { throw HTTPError(.badRequest, message: "count is too large to double") }
    return Doubled(name: input.name, count: input.count, doubled: doubled)
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
