import Foundation
import RelayTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCamera
import RelayCore
import RelayFLV
import RelayServer

/// Raw inputs for `relay-camera`, made with ffmpeg once per test run: Annex-B elementary
/// streams and raw audio, as a camera board's encoder would hand them out.
actor CameraMedia {
    static let shared = CameraMedia()
    private let cache = MediaCache("camera-media")

    /// 720p25 H.264 Main, GOP 25 (a key frame a second), no B-frames, SPS/PPS before every IDR,
    /// AUDs, 4 s, Annex-B.
    func h264() async throws -> String {
        try await cache.h264AnnexB("cam_720p.h264", size: "1280x720", seconds: 4, bitrate: "2M", x264Params: "repeat-headers=1:aud=1")
    }

    /// 720p25 H.265 Main, GOP 25, no B-frames, VPS/SPS/PPS before every IRAP, 2 s, Annex-B.
    func h265() async throws -> String {
        try await cache.h265AnnexB("cam_720p.h265", size: "1280x720", seconds: 2, bitrate: "2M")
    }

    /// Raw G.711 A-law, 8 kHz mono, 4 s (no header).
    func alaw() async throws -> String {
        try await cache.alaw("cam_8k.alaw", seconds: 4)
    }

    /// AAC-LC 44.1 kHz stereo in ADTS, 4 s.
    func aac() async throws -> String {
        try await cache.adtsAAC("cam_44k.aac", seconds: 4, bitrate: "128k")
    }

    var tempDir: String { cache.dir }
}
/// A relay on chosen ports, for the kill-and-restart test (a new server on the same port).
final class FixedPortServer: Sendable {
    let server: RelayServer
    let rtmpPort: Int
    let httpPort: Int

    static func start(rtmpPort: Int = 0, httpPort: Int = 0) async throws -> FixedPortServer {
        let json = """
        {"log_level": "debug",
         "rtmp": {"host": "127.0.0.1", "port": \(rtmpPort)},
         "http_flv": {"host": "127.0.0.1", "port": \(httpPort)},
         "rtsp": {"enabled": false}, "admin": {"enabled": false}, "jt1078": {"enabled": false}, "webrtc": {"enabled": false},
         "gb28181": {"enabled": false}}
        """
        let (server, _) = try await TestServer.startRelay(json, logLevel: .info)
        return FixedPortServer(server: server)
    }

    private init(server: RelayServer) {
        self.server = server
        self.rtmpPort = server.port("rtmp") ?? 0
        self.httpPort = server.port("http_flv") ?? 0
    }

    func rtmpURL(_ stream: String) -> String { "rtmp://127.0.0.1:\(rtmpPort)/\(stream)" }

    func stop() async { try? await server.stop() }
}

/// What `FLVProbe` saw.
struct ProbeStats: Sendable {
    var status: Int?
    var codec: CodecID?
    /// The picture size the last sequence header announces.
    var width = 0
    var height = 0
    var sequenceHeaders = 0
    var videoFrames = 0
    var keyFrames = 0
    var audioFrames = 0
    var firstVideoIsKey: Bool?
    /// Frames carrying a `--stamp` capture time.
    var stampedFrames = 0
    /// now − capture stamp, ms, for frames after the second key frame (the first GOP comes from
    /// the relay's GOP cache, in a burst, and says nothing about live latency).
    var latenciesMs: [Double] = []
    var error: String?
    var closed = false
}

/// An HTTP-FLV player that parses every tag (like `HTTPFLVPlayer`) and also reports the video
/// codec and the `--stamp` SEI of each frame: glass-to-glass latency through the relay.
final class FLVProbe: Sendable {
    private let state: NIOLockedValueBox<ProbeStats>
    private let channel: any Channel

    static func connect(port: Int, path: String) async throws -> FLVProbe {
        let state = NIOLockedValueBox(ProbeStats())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(ProbeHandler(state: state)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n"))
        return FLVProbe(state: state, channel: channel)
    }

    private init(state: NIOLockedValueBox<ProbeStats>, channel: any Channel) {
        self.state = state
        self.channel = channel
    }

    var stats: ProbeStats { state.withLockedValue { $0 } }

    func wait(seconds: Double, until condition: @Sendable (ProbeStats) -> Bool) async -> ProbeStats {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let s = stats
            if condition(s) || s.closed || s.error != nil { return s }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return stats
    }

    func close() async { try? await channel.close() }

    private final class ProbeHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        struct Failure: Error, CustomStringConvertible { let description: String }
        private let state: NIOLockedValueBox<ProbeStats>
        private var pending = ByteBuffer()
        private var flv = ByteBuffer()
        private var headDone = false
        private var chunkLeft = 0
        private var reader = FLVTagReader()

        init(state: NIOLockedValueBox<ProbeStats>) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var incoming = unwrapInboundIn(data)
            pending.writeBuffer(&incoming)
            do {
                try parse()
            } catch {
                state.withLockedValue { $0.error = "\(error)" }
                context.close(promise: nil)
            }
            pending.discardReadBytes()
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLockedValue { $0.closed = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            state.withLockedValue { $0.error = "\(error)" }
            context.close(promise: nil)
        }

        private func parse() throws {
            if !headDone {
                guard let end = pending.readableBytesView.firstRange(of: [13, 10, 13, 10]) else { return }
                let head = pending.readString(length: end.upperBound - pending.readableBytesView.startIndex) ?? ""
                let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) }
                state.withLockedValue { $0.status = status }
                guard status == 200 else { throw Failure(description: "HTTP status \(status ?? 0)") }
                guard head.lowercased().contains("transfer-encoding: chunked") else {
                    throw Failure(description: "response is not chunked")
                }
                headDone = true
            }
            while true {
                if chunkLeft > 0 {
                    let n = min(chunkLeft, pending.readableBytes)
                    guard n > 0, var piece = pending.readSlice(length: n) else { return }
                    flv.writeBuffer(&piece)
                    chunkLeft -= n
                    if chunkLeft == 0 { chunkLeft = -2 }  // then the CRLF after the chunk
                    try drain()
                    continue
                }
                if chunkLeft == -2 {
                    guard pending.readableBytes >= 2 else { return }
                    pending.moveReaderIndex(forwardBy: 2)
                    chunkLeft = 0
                }
                guard let end = pending.readableBytesView.firstRange(of: [13, 10]) else { return }
                let line = pending.readString(length: end.upperBound - pending.readableBytesView.startIndex) ?? ""
                guard let size = Int(line.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16) else {
                    throw Failure(description: "bad chunk size line \(line)")
                }
                if size == 0 { return }
                chunkLeft = size
            }
        }

        private func drain() throws {
            while let tag = try reader.next(from: &flv) {
                switch tag.type {
                case FLVTagType.video:
                    let now = CaptureStamp.nowMicros()
                    switch try FLVVideo.parse(tag.body) {
                    case .sequenceHeader(let codec, let record):
                        let track = codec == .h265 ? try AVStream.h265(index: 0, timebase: 1000, hvcRecord: record)
                                                   : try AVStream.h264(index: 0, timebase: 1000, avcRecord: record)
                        state.withLockedValue {
                            $0.sequenceHeaders += 1
                            $0.codec = codec
                            $0.width = track.video?.width ?? 0
                            $0.height = track.video?.height ?? 0
                        }
                    case .frame(let codec, let isKey, _, let data):
                        let stamp = CaptureStamp.captureMicros(inAccessUnit: data, codec: codec)
                        state.withLockedValue { s in
                            s.codec = codec
                            if s.firstVideoIsKey == nil { s.firstVideoIsKey = isKey }
                            s.videoFrames += 1
                            if isKey { s.keyFrames += 1 }
                            if let stamp {
                                s.stampedFrames += 1
                                if s.keyFrames >= 2 { s.latenciesMs.append(Double(now - stamp) / 1000) }
                            }
                        }
                    default:
                        break
                    }
                case FLVTagType.audio:
                    state.withLockedValue { $0.audioFrames += 1 }
                default:
                    break
                }
            }
            flv.discardReadBytes()
        }
    }
}

/// A TCP port that was free a moment ago (RelayTestSupport's, for the files here that do not import it).
func freeTCPPort() throws -> Int { try RelayTestSupport.freeTCPPort() }

/// Percentile of sorted values (nearest rank).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
