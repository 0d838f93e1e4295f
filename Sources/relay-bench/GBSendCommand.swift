import ArgumentParser
import Dispatch
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
import RelayRTP

/// `relay-bench gb-send`: acts as a GB28181 device. Sends an Annex-B H.264/H.265 file (and
/// optionally G.711 or AAC ADTS audio) as RTP/PS, paced in real time, over UDP, TCP passive
/// (we connect to the server) or TCP active (we listen; the server dials us).
struct GBSendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gb-send",
        abstract: "Send a video file (+ audio) as GB28181 RTP/PS over UDP, TCP passive or TCP active, in real time.",
        discussion: SenderMediaOptions.ending
            + " In tcp-active mode it first prints \"listening on HOST:PORT\" and waits for the server to connect.")

    @OptionGroup var media: SenderMediaOptions

    @Option(help: "SSRC as GB28181 writes it (ten decimal digits).")
    var ssrc: String = "0100000001"

    @Option(help: "udp, tcp-passive (connect to the server) or tcp-active (listen for the server).")
    var mode: String = "udp"

    @Option(help: "Server address (udp, tcp-passive) or the address to listen on (tcp-active).")
    var host: String = "127.0.0.1"

    @Option(help: "Server port (udp, tcp-passive) or the port to listen on (tcp-active; 0 = any).")
    var port: Int

    @Option(help: "UDP: percentage of packets sent late (reordered).")
    var reorder: Double = 0

    @Option(help: "UDP: a reordered packet is sent up to this many packets late.")
    var reorderWindow: Int = 8

    @Option(help: "UDP: percentage of packets dropped.")
    var loss: Double = 0

    @Option(help: "UDP: send the first N packets in reverse order (a start that arrives out of order).")
    var reverseStart: Int = 0

    @Option(help: "Seed for the impairments (default: random).")
    var seed: UInt64?

    @Option(help: "Largest RTP payload in bytes.")
    var maxPayload: Int = 1400

    @Option(help: "First PTS (90 kHz); e.g. 8589484592 to cross the 33-bit wrap after 5 s.")
    var ptsStart: Int64 = 0

    @Option(help: "TCP: rfc4571 (a 2-byte length before each packet, as GB28181 says) or none (bare RTP back to back, as some devices send).")
    var tcpFraming: String = "rfc4571"

    func validate() throws {
        guard ["udp", "tcp-passive", "tcp-active"].contains(mode) else {
            throw ValidationError("--mode must be udp, tcp-passive or tcp-active")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (0...100).contains(loss), (0...100).contains(reorder) else { throw ValidationError("--loss and --reorder are percentages") }
        guard reorderWindow >= 1 else { throw ValidationError("--reorder-window must be at least 1") }
        guard (0...1000).contains(reverseStart) else { throw ValidationError("--reverse-start must be 0...1000") }
        guard (64...65000).contains(maxPayload) else { throw ValidationError("--max-payload must be 64...65000") }
        guard ["rfc4571", "none"].contains(tcpFraming) else { throw ValidationError("--tcp-framing must be rfc4571 or none") }
    }

    func run() async throws {
        let ssrcValue = try parseSSRC(ssrc)
        let frames = try GBSendMedia.load(video: media.video, codec: media.codec, audio: media.audio,
                                          audioCodec: media.audioCodec, audioFrameMs: media.audioFrameMs)
        let stop = StopFlag()
        let signals = stop.watchSignals()
        defer { signals.cancel() }

        let stats = try await withEventLoopGroup(threads: 1) { group in
            let transport = try await GBTransport.make(mode: mode, host: host, port: port, group: group,
                                                      lengthPrefix: tcpFraming == "rfc4571")
            var stats = GBSendStats()
            do {
                if mode == "tcp-active" {
                    gbWriteLine("listening on \(transport.localDescription)")
                    try await transport.waitConnected(stop: stop)
                }
                try await send(frames, ssrc: ssrcValue, transport: transport, stop: stop, stats: &stats)
            } catch {
                await transport.close()
                throw error
            }
            await transport.close()
            return stats
        }
        gbWriteLine(stats.json)
    }

    private func send(_ frames: GBSendMedia, ssrc: UInt32, transport: GBTransport, stop: StopFlag,
                      stats: inout GBSendStats) async throws {
        var muxer = PSMuxer(video: frames.videoCodec, audio: frames.audioCodec)
        muxer.audioStreamID = PSMuxer.audioStreamID
        var rtp = RTPPacketizer(ssrc: ssrc, payloadType: 96, sequence: UInt16.random(in: 0...UInt16.max), maxPayload: maxPayload)
        var impair = GBImpairment(lossPct: mode == "udp" ? loss : 0, reorderPct: mode == "udp" ? reorder : 0,
                                window: reorderWindow, reverseStart: mode == "udp" ? reverseStart : 0,
                                seed: seed ?? UInt64.random(in: 0...UInt64.max))
        let clock = ContinuousClock()
        let start = clock.now
        var vi = 0
        var ai = 0
        let audioDuration = frames.audioFrameSeconds
        while !stop.isSet {
            let vt = Double(vi) / media.fps
            var at = frames.audioFrames.isEmpty ? Double.infinity : Double(ai) * audioDuration
            if !media.loop && ai >= frames.audioFrames.count { at = .infinity }
            let isVideo = vt <= at
            if isVideo && !media.loop && vi >= frames.videoFrames.count { break }
            let t = isVideo ? vt : at
            if let duration = media.duration, t >= duration { break }
            try await clock.sleep(until: start + .nanoseconds(Int64(t * 1e9)))
            var ps = ByteBuffer()
            let pts: Int64
            if isVideo {
                let frame = frames.videoFrames[vi % frames.videoFrames.count]
                pts = ptsStart + Int64((Double(vi) * 90000 / media.fps).rounded())
                muxer.writeVideo(nals: frame.nals, pts: pts, isKey: frame.isKey, into: &ps)
                vi += 1
                stats.videoFrames += 1
            } else {
                let frame = frames.audioFrames[ai % frames.audioFrames.count]
                pts = ptsStart + Int64((Double(ai) * audioDuration * 90000).rounded())
                muxer.writeAudio(frame, pts: pts, into: &ps)
                ai += 1
                stats.audioFrames += 1
            }
            let packets = rtp.packetize(ps, timestamp: UInt32(truncatingIfNeeded: pts))
            var out: [ByteBuffer] = []
            for p in packets { impair.process(p, into: &out) }
            stats.packets += packets.count
            stats.bytes += packets.reduce(0) { $0 + $1.readableBytes }
            try await transport.send(out)
        }
        var rest: [ByteBuffer] = []
        impair.flush(into: &rest)
        try await transport.send(rest)
        stats.lost = impair.lost
        stats.reordered = impair.reordered
        stats.seconds = Double((clock.now - start).components.seconds) + Double((clock.now - start).components.attoseconds) / 1e18
    }

    private func parseSSRC(_ text: String) throws -> UInt32 {
        guard !text.isEmpty, text.count <= 10, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let v = UInt64(text), v <= UInt64(UInt32.max) else {
            throw ValidationError("--ssrc must be up to ten decimal digits (at most 4294967295)")
        }
        return UInt32(v)
    }
}

/// Unbuffered, so a test reading the pipe sees the line at once.
func gbWriteLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

struct GBSendStats {
    var videoFrames = 0
    var audioFrames = 0
    var packets = 0
    var bytes = 0
    var lost = 0
    var reordered = 0
    var seconds = 0.0

    var json: String {
        "{\"video_frames\":\(videoFrames),\"audio_frames\":\(audioFrames),\"packets\":\(packets),\"bytes\":\(bytes),"
            + "\"lost\":\(lost),\"reordered\":\(reordered),\"seconds\":\(String(format: "%.2f", seconds))}"
    }
}

/// The frames to send, read once.
struct GBSendMedia {
    struct VideoFrame {
        var nals: [ByteBuffer]
        var isKey: Bool
    }

    var videoCodec: CodecID
    var videoFrames: [VideoFrame]
    var audioCodec: CodecID?
    /// G.711 chunks or whole ADTS frames.
    var audioFrames: [ByteBuffer]
    var audioFrameSeconds: Double

    static func load(video: String, codec: String?, audio: String?, audioCodec: String?, audioFrameMs: Int) throws -> GBSendMedia {
        guard let data = FileManager.default.contents(atPath: video) else { throw ValidationError("cannot read \(video)") }
        let declared = CodecID(videoName: codec ?? CodecID.fileExtension(video))
        if codec != nil && declared == nil { throw ValidationError("--codec must be h264 or h265") }
        var assembler = AccessUnitAssembler(codec: declared, maxBytes: 64 << 20)
        var units: [VideoAccessUnit] = []
        try assembler.append(ByteBuffer(bytes: data), arrival: 0, into: &units)
        try assembler.flush(arrival: 0, into: &units)
        guard let first = units.first else { throw ValidationError("\(video): no H.264/H.265 access units found") }
        let frames = try units.map { VideoFrame(nals: try AnnexB.nalUnits(lengthPrefixed: $0.payload), isKey: $0.isKey) }

        var media = GBSendMedia(videoCodec: first.codec, videoFrames: frames, audioCodec: nil, audioFrames: [], audioFrameSeconds: 1)
        guard let audio else { return media }
        guard let bytes = FileManager.default.contents(atPath: audio) else { throw ValidationError("cannot read \(audio)") }
        guard let acodec = CodecID(audioName: audioCodec ?? CodecID.fileExtension(audio)) else {
            throw ValidationError("--audio-codec must be g711a, g711u or aac")
        }
        let sound = try AudioFileFrames(ByteBuffer(bytes: bytes), codec: acodec, g711FrameMs: audioFrameMs)
        guard acodec != .aac || !sound.frames.isEmpty else { throw ValidationError("\(audio): no ADTS frames") }
        media.audioCodec = acodec
        media.audioFrames = sound.frames
        media.audioFrameSeconds = sound.frameSeconds
        return media
    }
}

/// Packet loss and reordering for UDP tests: a packet is dropped with `lossPct` %, or held back
/// with `reorderPct` % and released 1…`window` packets later.
struct GBImpairment {
    let loss: Double
    let reorderChance: Double
    let window: Int
    private var rng: SplitMix64
    private var counter = 0
    private var held: [(release: Int, packet: ByteBuffer)] = []
    /// The first packets, sent in reverse once `reverseStart` of them are in.
    private var start: [ByteBuffer] = []
    private let reverseStart: Int
    private(set) var lost = 0
    private(set) var reordered = 0

    init(lossPct: Double, reorderPct: Double, window: Int, reverseStart: Int = 0, seed: UInt64) {
        loss = lossPct / 100
        reorderChance = reorderPct / 100
        self.window = window
        self.reverseStart = reverseStart
        rng = SplitMix64(seed: seed)
    }

    mutating func process(_ packet: ByteBuffer, into out: inout [ByteBuffer]) {
        counter += 1
        if counter <= reverseStart {
            start.append(packet)
            if counter == reverseStart {
                out.append(contentsOf: start.reversed())
                reordered += max(start.count - 1, 0)
                start.removeAll()
            }
            return
        }
        if loss > 0 && Double.random(in: 0..<1, using: &rng) < loss {
            lost += 1
        } else if reorderChance > 0 && Double.random(in: 0..<1, using: &rng) < reorderChance {
            held.append((counter + Int.random(in: 1...window, using: &rng), packet))
            reordered += 1
        } else {
            out.append(packet)
        }
        let due = held.filter { $0.release <= counter }.sorted { $0.release < $1.release }
        if !due.isEmpty {
            held.removeAll { $0.release <= counter }
            out.append(contentsOf: due.map(\.packet))
        }
    }

    mutating func flush(into out: inout [ByteBuffer]) {
        out.append(contentsOf: start.reversed())
        start.removeAll()
        out.append(contentsOf: held.sorted { $0.release < $1.release }.map(\.packet))
        held.removeAll()
    }
}

/// Where packets go: a UDP socket, a TCP connection to the server, or the connection the
/// server opened to our listener.
final class GBTransport: Sendable {
    private let udp: (any Channel)?
    private let target: SocketAddress?
    private let listener: (any Channel)?
    private let connection: NIOLockedValueBox<(any Channel)?>
    /// TCP: RFC 4571 length prefixes (false: bare RTP, a device quirk).
    private let lengthPrefix: Bool

    static func make(mode: String, host: String, port: Int, group: any EventLoopGroup,
                     lengthPrefix: Bool = true) async throws -> GBTransport {
        switch mode {
        case "udp":
            let target = try SocketAddress.makeAddressResolvingHost(host, port: port)
            let ch = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
                .bind(host: target.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
            return GBTransport(udp: ch, target: target, listener: nil, connection: nil, lengthPrefix: lengthPrefix)
        case "tcp-passive":
            let ch = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(5))
                .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Discard()) } }
                .connect(host: host, port: port).get()
            return GBTransport(udp: nil, target: nil, listener: nil, connection: ch, lengthPrefix: lengthPrefix)
        default:
            let box = NIOLockedValueBox<(any Channel)?>(nil)
            let listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        let old = box.withLockedValue { b -> (any Channel)? in
                            defer { b = ch }
                            return b
                        }
                        old?.close(promise: nil)
                        try ch.pipeline.syncOperations.addHandler(Discard())
                        ch.closeFuture.whenComplete { _ in
                            box.withLockedValue { b in if b === ch { b = nil } }
                        }
                    }
                }
                .bind(host: host, port: port).get()
            return GBTransport(udp: nil, target: nil, listener: listener, connectionBox: box, lengthPrefix: lengthPrefix)
        }
    }

    private init(udp: (any Channel)?, target: SocketAddress?, listener: (any Channel)?, connection: (any Channel)?,
                 lengthPrefix: Bool) {
        self.lengthPrefix = lengthPrefix
        self.udp = udp
        self.target = target
        self.listener = listener
        self.connection = NIOLockedValueBox(connection)
    }

    private init(udp: (any Channel)?, target: SocketAddress?, listener: (any Channel)?, connectionBox: NIOLockedValueBox<(any Channel)?>,
                 lengthPrefix: Bool) {
        self.lengthPrefix = lengthPrefix
        self.udp = udp
        self.target = target
        self.listener = listener
        self.connection = connectionBox
    }

    var localDescription: String {
        guard let a = listener?.localAddress, let ip = a.ipAddress, let port = a.port else { return "?" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    func waitConnected(stop: StopFlag) async throws {
        while connection.withLockedValue({ $0 == nil }) && !stop.isSet {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
    }

    /// Sends RTP packets: as datagrams, or RFC 4571 framed (or bare) on the connection (dropped while
    /// there is none: a device keeps capturing while its platform reconnects).
    func send(_ packets: [ByteBuffer]) async throws {
        guard !packets.isEmpty else { return }
        if let udp, let target {
            for p in packets { udp.write(AddressedEnvelope(remoteAddress: target, data: p), promise: nil) }
            udp.flush()
            return
        }
        guard let ch = connection.withLockedValue({ $0 }) else {
            if listener == nil { throw ChannelError.ioOnClosedChannel }
            return
        }
        var framed = ByteBuffer()
        framed.reserveCapacity(packets.reduce(0) { $0 + 2 + $1.readableBytes })
        for p in packets {
            if lengthPrefix { RFC4571.frame(p, into: &framed) } else { framed.writeImmutableBuffer(p) }
        }
        do {
            try await ch.writeAndFlush(framed)
        } catch {
            if listener == nil { throw error }  // tcp-passive: the server hung up
        }
    }

    func close() async {
        if let udp { try? await udp.close() }
        if let ch = connection.withLockedValue({ $0 }) { try? await ch.close() }
        if let listener { try? await listener.close() }
    }

    private final class Discard: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}
