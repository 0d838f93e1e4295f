// swift-tools-version: 6.0
// libFuzzer targets for LiveRelay's parsers, kept out of the main package so the normal build is
// not slowed. Build and run them with ../scripts/fuzz.sh (see Fuzz/README.md).
import PackageDescription

let fuzzers: [(name: String, deps: [Target.Dependency])] = [
    ("FuzzRTMPHandshake", ["RelayRTMP"]),
    ("FuzzRTMPChunk", ["RelayRTMP", "RelayFLV", "RelayCore"]),
    ("FuzzAMF0", ["RelayFLV"]),
    ("FuzzFLV", ["RelayFLV", "RelayCore"]),
    ("FuzzCodec", ["RelayCore"]),
    ("FuzzRTP", ["RelayRTP"]),
    ("FuzzRTPDepacketizer", ["RelayRTP", "RelayCore"]),
    ("FuzzPS", ["RelayRTP", "RelayCore"]),
    ("FuzzJT1078", ["RelayJT1078", "RelayCore"]),
    ("FuzzRTSP", ["RelayRTSP", "RelayCore"]),
    ("FuzzHTTPFLV", ["RelayCore", .product(name: "NIOHTTP1", package: "swift-nio")]),
    ("FuzzZLM", ["RelayZLM", "RelayGB28181", "RelayCore"]),
    ("FuzzHLS", ["RelayHLS", "RelayCore", "RelayTestSupport", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
    ("FuzzConfig", ["RelayCore", "RelayRTMP", "RelayFLV", "RelayRTSP", "RelayGB28181", "RelayJT1078", "RelayPull"]),
    ("FuzzWebRTC", ["RelayWebRTC", "RelayRTP", "RelayCore"]),
    // Pipeline targets: peer bytes -> session -> Source -> every muxer with a player attached.
    ("FuzzPipelineRTMP", ["PipelineSupport", "RelayRTMP", "RelayFLV", "RelayCore"]),
    ("FuzzPipelineGB", ["PipelineSupport", "RelayGB28181", "RelayRTP", "RelayCore"]),
    ("FuzzPipelineJT1078", ["PipelineSupport", "RelayJT1078", "RelayCore"]),
    ("FuzzPipelineWHIP", ["PipelineSupport", "RelayWebRTC", "RelayCore"]),
    ("FuzzPipelineRTSP", ["PipelineSupport", "RelayRTSP", "RelayRTP", "RelayCore"]),
    ("FuzzPipelineRTSPPull", ["PipelineSupport", "RelayRTSP", "RelayRTMP", "RelayFLV", "RelayRTP", "RelayCore"]),
]

/// swift-nio products by the part after "NIO": `nio("Core", "Embedded")`.
func nio(_ modules: String...) -> [Target.Dependency] {
    modules.map { .product(name: "NIO" + $0, package: "swift-nio") }
}

/// The main package's library products by name.
func relay(_ modules: String...) -> [Target.Dependency] {
    modules.map { .product(name: $0, package: "LiveRelay") }
}

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
    name: "LiveRelayFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "LiveRelay", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CFuzzer"),
        .target(
            name: "FuzzSupport",
            dependencies: ["CFuzzer", logging] + relay("RelayCore", "RelayTestSupport")
                + nio("Core", "Embedded", "ConcurrencyHelpers")
        ),
        // Players of every output and the checks the pipeline targets share.
        .target(
            name: "PipelineSupport",
            dependencies: ["FuzzSupport", "CFuzzer"] + relay("RelayCore", "RelayFLV", "RelayRTMP", "RelayRTP", "RelayRTSP", "RelayMP4", "RelayHLS")
                + nio("Core")
        ),
    ] + fuzzers.map { fuzzer in
        .executableTarget(
            name: fuzzer.name,
            dependencies: ["FuzzSupport", logging] + nio("Core", "Embedded")
                + fuzzer.deps.map { dep -> Target.Dependency in
                    if case .byNameItem(let name, _) = dep, name.hasPrefix("Relay") {
                        return .product(name: name, package: "LiveRelay")
                    }
                    return dep
                }
        )
    },
    swiftLanguageModes: [.v6]
)
