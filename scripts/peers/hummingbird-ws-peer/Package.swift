// swift-tools-version: 6.1
import PackageDescription

// hummingbird-websocket 2.8.1, the peer of `gust serve`'s /ws/echo in scripts/ws-echo-compare.sh:
// the same echo on the ecosystem's WebSocket server (SwiftNIO underneath), built apart so the
// main package never depends on it. `swift build -c release` here (the script does).
let package = Package(
    name: "HummingbirdWSPeer",
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", exact: "2.8.1"),
    ],
    targets: [
        .executableTarget(
            name: "HummingbirdWSPeer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
