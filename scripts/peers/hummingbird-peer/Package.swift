// swift-tools-version: 6.1
import PackageDescription

// Hummingbird 2, the peer of `gust serve`'s async routes in scripts/compare.sh: the same
// routes (/plaintext, POST /async/json) on the ecosystem's async server, built apart so the
// main package never depends on it. `swift build -c release` here (scripts/compare.sh does).
let package = Package(
    name: "HummingbirdPeer",
    dependencies: [.package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0")],
    targets: [
        .executableTarget(
            name: "HummingbirdPeer",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
