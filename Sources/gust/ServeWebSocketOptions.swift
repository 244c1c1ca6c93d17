import ArgumentParser
import Gust

/// `gust serve`'s options for the demo's WebSocket routes (`/ws/echo`, `/ws/topic/NAME`).
struct WebSocketCLIOptions: ParsableArguments {
    @Option(name: .customLong("ws-ping-interval"), help: "Ping a WebSocket connection silent this long ('none': never).")
    var pingInterval = "30s"

    @Option(name: .customLong("ws-pong-timeout"), help: "Close a WebSocket connection whose ping is unanswered this long.")
    var pongTimeout = "10s"

    @Option(name: .customLong("ws-max-message"), help: "Largest WebSocket message (and frame) in bytes; past it, close 1009.")
    var maxMessage = 1 << 20

    @Option(name: .customLong("ws-max-queued"), help: "Most output queued for a WebSocket client that does not read; past it, it is closed.")
    var maxQueued = 1 << 20

    func validate() throws { _ = try options() }

    func options() throws -> WebSocketOptions {
        var o = WebSocketOptions()
        o.pingInterval = pingInterval == "none" ? nil : try DurationText.parse(pingInterval, option: "--ws-ping-interval")
        if let interval = o.pingInterval, interval <= .zero { throw ValidationError("--ws-ping-interval must be positive") }
        o.pongTimeout = try DurationText.parse(pongTimeout, option: "--ws-pong-timeout")
        guard o.pongTimeout > .zero else { throw ValidationError("--ws-pong-timeout must be positive") }
        guard maxMessage >= 1 else { throw ValidationError("--ws-max-message must be positive") }
        guard maxQueued >= 1 else { throw ValidationError("--ws-max-queued must be positive") }
        o.maxMessageSize = maxMessage
        o.maxFrameSize = maxMessage
        o.maxQueuedBytes = maxQueued
        return o
    }
}
