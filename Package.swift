// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "LiveRelay",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "relay", targets: ["relay"]),
        .executable(name: "relay-bench", targets: ["relay-bench"]),
        .executable(name: "relay-camera", targets: ["relay-camera"]),
        .executable(name: "relay-floor", targets: ["relay-floor"]),
        .library(name: "RelayServer", targets: ["RelayServer"]),
        // The parser modules, for the libFuzzer package in Fuzz/ (which depends on this one by path).
        .library(name: "RelayCore", targets: ["RelayCore"]),
        .library(name: "RelayFLV", targets: ["RelayFLV"]),
        .library(name: "RelayRTMP", targets: ["RelayRTMP"]),
        .library(name: "RelayRTP", targets: ["RelayRTP"]),
        .library(name: "RelayRTSP", targets: ["RelayRTSP"]),
        .library(name: "RelayJT1078", targets: ["RelayJT1078"]),
        .library(name: "RelayGB28181", targets: ["RelayGB28181"]),
        // A hand-driven event loop and channel for session tests and the pipeline fuzz targets.
        .library(name: "RelayTestSupport", targets: ["RelayTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
    ],
    targets: [
        // Media model, codec parameter parsing and the fan-out core (Source, TransStream, sinks).
        .target(
            name: "RelayCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // FLV tags (shared with RTMP, whose messages are FLV tag bodies) and HTTP-FLV play.
        .target(
            name: "RelayFLV",
            dependencies: [
                "RelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // RTMP handshake, chunk stream, AMF0, server sessions, client, RTMP TransStream.
        .target(
            name: "RelayRTMP",
            dependencies: [
                "RelayCore", "RelayFLV",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // RTSP play: server, SDP, interleaved framing, the RTP TransStream muxer (on RelayRTP), TCP/UDP transports.
        .target(
            name: "RelayRTSP",
            dependencies: [
                "RelayCore", "RelayRTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // HTTP hooks (on_publish, on_play …) on AsyncHTTPClient: the EventHooks of RelayCore.
        .target(
            name: "RelayHooks",
            dependencies: [
                "RelayCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // RTP (RFC 3550) and RTCP, RFC 4571 framing, reorder buffer, H.264/H.265/AAC/G.711 packetizers and
        // depacketizers, MPEG-PS demuxer and muxer (GB28181 payload).
        .target(
            name: "RelayRTP",
            dependencies: [
                "RelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // GB28181 ingest: RTP/PS over UDP, TCP passive and TCP active; shared ports demuxed by SSRC.
        .target(
            name: "RelayGB28181",
            dependencies: [
                "RelayCore", "RelayRTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // JT/T 1078 ingest (2016 and 2019 layouts): frame decoder, sub-package reassembly, sessions; the sender's packetizer.
        .target(
            name: "RelayJT1078",
            dependencies: [
                "RelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Admin REST API (/api/v1) and Prometheus /metrics on Hummingbird, on a listener of its own.
        .target(
            name: "RelayAdmin",
            dependencies: [
                "RelayCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Wires config, listeners and registry together; used by `relay` and by the tests.
        .target(
            name: "RelayServer",
            dependencies: [
                "RelayCore", "RelayFLV", "RelayRTMP", "RelayRTSP", "RelayHooks", "RelayGB28181", "RelayJT1078", "RelayAdmin",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // ManualLoop (an event loop driven by hand, usable as a Source's actor executor, which
        // EmbeddedEventLoop is not) and ManualChannel: protocol sessions tested without sockets.
        .target(
            name: "RelayTestSupport",
            dependencies: [
                "RelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Clients that parse what they receive (players for tests and relay-bench).
        .target(
            name: "RelayBenchKit",
            dependencies: [
                "RelayCore", "RelayFLV", "RelayRTMP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "relay-bench",
            dependencies: [
                "RelayBenchKit", "RelayRTP", "RelayCore", "RelayJT1078", "RelayCamera",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The fan-out floor for BENCHMARKS.md: segments written to N sockets, nothing else.
        .executableTarget(
            name: "relay-floor",
            dependencies: [
                "RelayFLV",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "bench/floor",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "relay",
            dependencies: [
                "RelayServer", "RelayCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The camera board's side: Annex-B reader, pacing, dispatcher, RTMP publisher, FLV recorder.
        .target(
            name: "RelayCamera",
            dependencies: [
                "RelayCore", "RelayFLV", "RelayRTMP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "relay-camera",
            dependencies: [
                "RelayCamera", "RelayCore", "RelayFLV",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayCameraTests",
            dependencies: [
                "RelayCamera", "RelayCore", "RelayFLV", "RelayRTMP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayCoreTests",
            dependencies: [
                "RelayCore",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayFLVTests",
            dependencies: [
                "RelayFLV", "RelayCore", "RelayTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayHooksTests",
            dependencies: [
                "RelayHooks", "RelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayRTMPTests",
            dependencies: [
                "RelayRTMP", "RelayCore", "RelayFLV", "RelayTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayRTSPTests",
            dependencies: [
                "RelayRTSP", "RelayRTP", "RelayCore", "RelayTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayJT1078Tests",
            dependencies: [
                "RelayJT1078", "RelayCore", "RelayTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayAdminTests",
            dependencies: [
                "RelayAdmin", "RelayCore",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayRTPTests",
            dependencies: [
                "RelayRTP", "RelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayGB28181Tests",
            dependencies: [
                "RelayGB28181", "RelayRTP", "RelayCore", "RelayTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "InteropTests",
            dependencies: [
                "RelayServer", "RelayCore", "RelayRTMP", "RelayFLV", "RelayBenchKit", "RelayCamera", "RelayRTSP", "RelayHooks", "RelayJT1078",
                "RelayGB28181", "RelayRTP",
                "RelayAdmin", .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
