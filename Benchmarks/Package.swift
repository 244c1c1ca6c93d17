// swift-tools-version: 6.1
import PackageDescription

// Micro and whole-server benchmarks with malloc counting (package-benchmark). A package of its
// own so the main build and CI do not pay for package-benchmark. Run from this directory:
//
//     swift package benchmark                       # everything, with figures
//     swift package benchmark thresholds check      # allocation budgets (exit 2 on regression)
//
// See docs/benchmarks.md.
let package = Package(
    name: "GustBenchmarks",
    dependencies: [
        .package(name: "gust", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Codec",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "GustHTTP1", package: "gust"),
                .product(name: "GustCore", package: "gust"),
                .product(name: "Gust", package: "gust"),
            ],
            path: "Codec",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
        .executableTarget(
            name: "WholeServer",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Gust", package: "gust"),
                .product(name: "GustDemo", package: "gust"),
                .product(name: "GustIO", package: "gust"),
            ],
            path: "WholeServer",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
        .executableTarget(
            name: "LoadGenerator",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Gust", package: "gust"),
                .product(name: "GustBench", package: "gust"),
                .product(name: "GustDemo", package: "gust"),
                .product(name: "GustIO", package: "gust"),
            ],
            path: "LoadGenerator",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
        .executableTarget(
            name: "Pool",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "GustIO", package: "gust"),
            ],
            path: "Pool",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
    ]
)
