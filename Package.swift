// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// swift-nio products by the part after "NIO": `nio("Core", "Posix")`.
func nio(_ modules: String...) -> [Target.Dependency] {
    modules.map { .product(name: "NIO" + $0, package: "swift-nio") }
}

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
/// What a module that runs channels and logs needs (most of the protocol modules).
let serving = nio("Core", "Posix", "ConcurrencyHelpers") + [logging]

func module(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .target(name: name, dependencies: dependencies, swiftSettings: strict)
}

func tool(_ name: String, _ dependencies: [Target.Dependency], path: String? = nil) -> Target {
    .executableTarget(name: name, dependencies: dependencies, path: path, swiftSettings: strict)
}

func tests(_ name: String, _ dependencies: [Target.Dependency], exclude: [String] = []) -> Target {
    .testTarget(name: name, dependencies: dependencies, exclude: exclude, swiftSettings: strict)
}

let package = Package(
    name: "LiveRelay",
    platforms: [.macOS(.v14)],
    products: ["relay", "relay-bench", "relay-camera", "relay-floor"].map { .executable(name: $0, targets: [$0]) }
        + [
            "RelayServer",
            // The parser modules, for the libFuzzer package in Fuzz/ (which depends on this one by path).
            "RelayCore", "RelayFLV", "RelayRTMP", "RelayRTP", "RelayRTSP", "RelayJT1078", "RelayGB28181", "RelayZLM",
            "RelayMP4", "RelayHLS", "RelayWebRTC", "RelayPull", "RelayCluster",
            // A hand-driven event loop and channel for session tests and the pipeline fuzz targets.
            "RelayTestSupport",
        ].map { .library(name: $0, targets: [$0]) },
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
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Media model, codec parameter parsing and the fan-out core (Source, TransStream, sinks).
        module("RelayCore", serving + [.product(name: "CoreMetrics", package: "swift-metrics")]),
        // FLV tags (shared with RTMP, whose messages are FLV tag bodies) and HTTP-FLV play.
        module("RelayFLV", ["RelayCore", logging] + nio("Core", "Posix", "HTTP1", "WebSocket")),
        // Fragmented MP4 (ISO BMFF, CMAF): init segments and fragments from AVPackets; the HTTP and
        // WebSocket fMP4 TransStreams and HLS's fMP4 segments.
        module("RelayMP4", ["RelayCore", logging] + nio("Core")),
        // HLS and LL-HLS: the MPEG-TS muxer, the segmenter (a sink of the HLS TransStreams),
        // playlists, sessions and the HTTP routes of playlists and segments.
        module("RelayHLS", ["RelayCore", "RelayMP4"] + serving),
        // Debian's OpenSSL (DTLS) and libsrtp2 (SRTP) for WebRTC, as a system library.
        .systemLibrary(name: "CWebRTCCrypto", path: "Sources/CWebRTCCrypto",
                       providers: [.apt(["libssl-dev", "libsrtp2-dev"])]),
        // WebRTC: WHEP play and WHIP publish; ICE-lite (STUN) on one UDP port, DTLS-SRTP, SDP offer/answer,
        // the RTP TransStream's packets per viewer with NACK/PLI/FIR.
        module("RelayWebRTC", ["RelayCore", "RelayRTP", "CWebRTCCrypto", .product(name: "Crypto", package: "swift-crypto")]
            + serving),
        // RTMP handshake, chunk stream, AMF0, server sessions, client, RTMP TransStream.
        module("RelayRTMP", ["RelayCore", "RelayFLV", logging, .product(name: "Crypto", package: "swift-crypto")]
            + nio("Core", "Posix")),
        // RTSP play and publish (ANNOUNCE/RECORD): server, SDP, interleaved framing, TCP/UDP transports; the RTSP
        // client of pull proxies (Digest auth through swift-crypto's MD5).
        module("RelayRTSP", ["RelayCore", "RelayRTP", .product(name: "Crypto", package: "swift-crypto")] + serving),
        // HTTP hooks (on_publish, on_play …) on AsyncHTTPClient: the EventHooks of RelayCore.
        module("RelayHooks", ["RelayCore", .product(name: "AsyncHTTPClient", package: "async-http-client")] + serving),
        // RTP (RFC 3550) and RTCP, RFC 4571 framing, reorder buffer, H.264/H.265/AAC/G.711 packetizers and
        // depacketizers, MPEG-PS demuxer and muxer (GB28181 payload).
        module("RelayRTP", ["RelayCore"] + nio("Core")),
        // GB28181 ingest: RTP/PS over UDP, TCP passive and TCP active; shared ports demuxed by SSRC.
        module("RelayGB28181", ["RelayCore", "RelayRTP"] + serving),
        // JT/T 1078 ingest (2016 and 2019 layouts): frame decoder, sub-package reassembly, sessions; the sender's packetizer.
        module("RelayJT1078", ["RelayCore"] + serving),
        // Pull proxies: streams brought from RTSP cameras and RTMP / HTTP-FLV origins (static, API, on demand),
        // reconnecting with back-off; `/api/v1/pulls`.
        module("RelayPull", ["RelayCore", "RelayRTMP", "RelayRTSP", "RelayFLV",
                             .product(name: "AsyncHTTPClient", package: "async-http-client")] + serving + nio("HTTP1")),
        // Origin/edge clusters: where each stream lives (PostgreSQL through postgres-nio, or the on_locate hook),
        // and edges that pull a missing stream from its origin for their players.
        module("RelayCluster", ["RelayCore", "RelayPull", .product(name: "PostgresNIO", package: "postgres-nio"),
                                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                .product(name: "AsyncHTTPClient", package: "async-http-client")] + serving),
        // Admin REST API (/api/v1), Prometheus /metrics and the web console (plain files in
        // Console/, served at /) on Hummingbird, on a listener of its own.
        .target(name: "RelayAdmin", dependencies: [
            "RelayCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ] + serving, resources: [.copy("Console")], swiftSettings: strict),
        // ZLMediaKit-compatible facade for GB28181 platforms: `/index/api/*` over the core and the
        // GB28181 module, and the dialect's webhooks through RelayHooks.
        module("RelayZLM", ["RelayCore", "RelayGB28181", "RelayHooks"] + serving),
        // Wires config, listeners and registry together; used by `relay` and by the tests.
        module("RelayServer", [
            "RelayCore", "RelayFLV", "RelayRTMP", "RelayRTSP", "RelayHooks", "RelayGB28181", "RelayJT1078", "RelayAdmin",
            "RelayZLM", "RelayMP4", "RelayHLS", "RelayWebRTC", "RelayPull", "RelayCluster",
        ] + serving),
        // ManualLoop (an event loop driven by hand, usable as a Source's actor executor, which
        // EmbeddedEventLoop is not) and ManualChannel: protocol sessions tested without sockets.
        module("RelayTestSupport", ["RelayCore", logging] + nio("Core", "ConcurrencyHelpers")),
        // Clients that parse what they receive (players for tests and relay-bench).
        module("RelayBenchKit", ["RelayCore", "RelayFLV", "RelayRTMP", "RelayRTP", "RelayWebRTC"] + nio("Core", "ConcurrencyHelpers", "Posix", "HTTP1", "WebSocket")),
        tool("relay-bench", ["RelayBenchKit", "RelayRTP", "RelayCore", "RelayJT1078", "RelayCamera", argumentParser]
            + nio("Core", "Posix")),
        // The fan-out floor for BENCHMARKS.md: segments written to N sockets, nothing else.
        tool("relay-floor", ["RelayFLV", argumentParser] + nio("Core", "Posix"), path: "bench/floor"),
        tool("relay", ["RelayServer", "RelayCore", argumentParser] + serving),
        // The camera board's side: Annex-B reader, pacing, dispatcher, RTMP publisher, FLV recorder.
        module("RelayCamera", ["RelayCore", "RelayFLV", "RelayRTMP"] + serving),
        tool("relay-camera", ["RelayCamera", "RelayCore", "RelayFLV", argumentParser, logging]),
        tests("RelayCameraTests", ["RelayCamera", "RelayCore", "RelayFLV", "RelayRTMP", "RelayTestSupport"] + nio("Core", "Posix", "ConcurrencyHelpers")),
        tests("RelayCoreTests", ["RelayCore", "RelayTestSupport"] + nio("Embedded", "Posix", "ConcurrencyHelpers")),
        tests("RelayFLVTests", ["RelayFLV", "RelayCore", "RelayTestSupport", logging] + nio("HTTP1", "WebSocket")),
        tests("RelayHooksTests", ["RelayHooks", "RelayCore", "RelayTestSupport", logging] + nio("Core", "Posix")),
        tests("RelayRTMPTests", ["RelayRTMP", "RelayCore", "RelayFLV", "RelayTestSupport", logging]
            + nio("Core", "Embedded", "TestUtils")),
        tests("RelayRTSPTests", ["RelayRTSP", "RelayRTP", "RelayCore", "RelayTestSupport", logging]
            + nio("Core", "Embedded", "TestUtils", "Posix")),
        tests("RelayJT1078Tests", ["RelayJT1078", "RelayCore", "RelayTestSupport", logging]
            + nio("Core", "Embedded", "TestUtils")),
        tests("RelayAdminTests", ["RelayAdmin", "RelayCore", logging, .product(name: "Prometheus", package: "swift-prometheus")]
            + nio("Core", "Posix")),
        tests("RelayRTPTests", ["RelayRTP", "RelayCore", "RelayTestSupport"] + nio("Core", "TestUtils")),
        tests("RelayMP4Tests", ["RelayMP4", "RelayCore", "RelayTestSupport", logging] + nio("Core")),
        tests("RelayHLSTests", ["RelayHLS", "RelayMP4", "RelayCore", "RelayTestSupport", logging] + nio("Core", "Posix", "ConcurrencyHelpers")),
        tests("RelayWebRTCTests", ["RelayWebRTC", "RelayRTP", "RelayCore", "RelayTestSupport", logging]
            + nio("Core", "Posix", "ConcurrencyHelpers")),
        tests("RelayZLMTests", ["RelayZLM", "RelayGB28181", "RelayHooks", "RelayCore", "RelayTestSupport"] + serving),
        tests("RelayPullTests", ["RelayPull", "RelayCore", "RelayTestSupport"] + serving),
        tests("RelayClusterTests", ["RelayCluster", "RelayPull", "RelayCore", "RelayTestSupport"] + serving),
        tests("RelayGB28181Tests", ["RelayGB28181", "RelayRTP", "RelayCore", "RelayTestSupport"] + serving),
        tests("InteropTests", [
            "RelayServer", "RelayCore", "RelayRTMP", "RelayFLV", "RelayBenchKit", "RelayCamera", "RelayRTSP", "RelayHooks", "RelayJT1078",
            "RelayGB28181", "RelayRTP", "RelayAdmin", "RelayZLM", "RelayMP4", "RelayHLS", "RelayWebRTC", "RelayTestSupport",
            "RelayPull", "RelayCluster",
            .product(name: "Yams", package: "Yams"),
        ] + serving + nio("HTTP1", "WebSocket"), exclude: ["Scripts"]),
    ],
    swiftLanguageModes: [.v6]
)
