// swift-tools-version: 6.1
import PackageDescription

// Layering (see DESIGN.md): CGustSystem <- GustIO; GustCore <- GustHTTP1; Gust and GustBench on top;
// the `gust` executable is a thin CLI over the libraries.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "gust",
    products: [
        .executable(name: "gust", targets: ["gust"]),
        .library(name: "Gust", targets: ["Gust"]),
        .library(name: "GustCore", targets: ["GustCore"]),
        .library(name: "GustHTTP1", targets: ["GustHTTP1"]),
        .library(name: "GustIO", targets: ["GustIO"]),
        .library(name: "GustWebSocket", targets: ["GustWebSocket"]),
        .library(name: "GustDemo", targets: ["GustDemo"]),
        .library(name: "GustBench", targets: ["GustBench"]),
        .library(name: "GustTesting", targets: ["GustTesting"]),
        .executable(name: "items-api", targets: ["items-api"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .target(name: "CGustSystem"),
        .target(name: "GustCore", swiftSettings: strict),
        .target(name: "GustHTTP1", dependencies: ["GustCore"], swiftSettings: strict),
        .target(name: "GustIO", dependencies: ["CGustSystem", "GustCore"], swiftSettings: strict),
        .target(name: "GustWebSocket", swiftSettings: strict),
        .target(
            name: "Gust",
            dependencies: [
                "GustCore", "GustHTTP1", "GustIO", "GustWebSocket", .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .target(name: "GustDemo", dependencies: ["Gust"], swiftSettings: strict),
        // Testing an app's routes: in process (socket pairs, no port) or live on an ephemeral port.
        .target(
            name: "GustTesting",
            dependencies: ["Gust", "GustIO", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strict),
        .target(
            name: "GustBench",
            dependencies: [
                "GustCore", "GustHTTP1", "GustIO", "GustWebSocket", .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "gust",
            dependencies: ["Gust", "GustDemo", "GustBench", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        // Examples/ItemsAPI: a small JSON API on Gust, built and tested with the rest.
        .target(name: "ItemsAPI", dependencies: ["Gust"], path: "Examples/ItemsAPI/Sources/ItemsAPI", swiftSettings: strict),
        .executableTarget(
            name: "items-api", dependencies: ["Gust", "ItemsAPI"], path: "Examples/ItemsAPI/Sources/items-api", swiftSettings: strict),
        .testTarget(
            name: "ItemsAPITests", dependencies: ["ItemsAPI", "Gust", "GustTesting"], path: "Examples/ItemsAPI/Tests/ItemsAPITests",
            swiftSettings: strict),
        .testTarget(name: "GustCoreTests", dependencies: ["GustCore"], swiftSettings: strict),
        .testTarget(name: "GustHTTP1Tests", dependencies: ["GustHTTP1", "GustCore"], swiftSettings: strict),
        .testTarget(name: "GustIOTests", dependencies: ["GustIO", "GustCore"], swiftSettings: strict),
        .testTarget(name: "GustWebSocketTests", dependencies: ["GustWebSocket"], swiftSettings: strict),
        .testTarget(name: "GustBenchTests", dependencies: ["GustBench", "GustCore", "GustHTTP1"], swiftSettings: strict),
        .testTarget(
            name: "GustTests",
            dependencies: [
                "Gust", "GustDemo", "GustIO", "GustHTTP1", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // An application's view: `import Gust` and nothing else.
        .testTarget(name: "GustAppTests", dependencies: ["Gust", "GustTesting"], swiftSettings: strict),
    ]
)
