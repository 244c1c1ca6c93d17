import Hummingbird
import HummingbirdWebSocket

// `HummingbirdWSPeer PORT`: hummingbird-websocket echoing every message on /ws/echo, as
// `gust serve` does.
let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8080 : 8080
let router = Router(context: BasicWebSocketRequestContext.self)
router.ws("/ws/echo") { inbound, outbound, _ in
    for try await message in inbound.messages(maxSize: 1 << 20) {
        switch message {
        case .binary(let buffer): try await outbound.write(.binary(buffer))
        case .text(let text): try await outbound.write(.text(text))
        }
    }
}
let app = Application(
    router: router, server: .http1WebSocketUpgrade(webSocketRouter: router),
    configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
