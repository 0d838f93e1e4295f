import CFuzzer
import Foundation
import FuzzSupport
import NIOCore
import RelayCore
import RelayFLV
import RelayHLS
import RelayMP4
import RelayRTMP
import RelayRTP
@testable import RelayRTSP

/// One input's server: a fresh RelayContext (registry, muxers of every output) on a ManualLoop,
/// players of every output attached to each source once it is playable, and the checks that
/// hold for any input:
///
/// - every player's bytes parse as that protocol (see OutputChecks.swift);
/// - the memory the pipeline holds stays within `memoryBudget` plus a few times the bytes fed
///   (ASan's allocator statistics, so real allocations, not payload bytes);
/// - when the publisher's connection has closed and the timers have run, no source is left.
///
/// Players: an RTMP and an RTSP (TCP interleaved, every track) player as soon as a source is
/// playable; a late HTTP-FLV, HTTP fMP4 and HLS TS player (new TransStreams primed from the
/// source's GOP cache) and a second RTMP player (started from the RTMP TransStream's cached
/// segments) some reads later.
/// They are the real ChannelSink / RTSPPlayerSink on a ManualChannel whose writes are checked and
/// dropped.
public final class PipelineHarness {
    public let loop = ManualLoop()
    public let relay: RelayContext
    /// Bytes an input may make the pipeline hold beyond a few times its own size.
    public static let memoryBudget = 64 << 20

    private let baseline: Int
    private var fed = 0
    private var step = 0
    private var sources: [Source] = []
    private var late: [(source: Source, atStep: Int)] = []
    private var playerChannels: [ManualChannel] = []
    private var rng: UInt64
    private let monotonic = ProcessInfo.processInfo.environment["FUZZ_MONOTONIC"] == "1"
    /// FUZZ_VERBOSE=1: one line per input (reads, sources, bytes each player got).
    private let verbose = ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] == "1"
    /// Feeding stops after this many seconds (FUZZ_INPUT_SECONDS, default 5; 0: no limit). A
    /// flood costs ~0.2 ms per message under ASan and coverage, so a few repeat escapes could
    /// otherwise make one input run for minutes and end the run as a libFuzzer timeout. Only
    /// inputs that long are cut (and then at a time that depends on the machine); the trigger
    /// replays in Fuzz/Triggers run without the limit.
    private static let inputSeconds = Double(ProcessInfo.processInfo.environment["FUZZ_INPUT_SECONDS"] ?? "") ?? 5
    private let started = DispatchTime.now()

    /// `config`: a cached parsed config (see `Self.config`); `seed` picks when late players join.
    public init(config: RelayConfig, seed: UInt8) {
        baseline = Int(fuzz_allocated_bytes())
        let hevc = HEVCFLVMode(rawValue: config.rtmp.hevcMode) ?? .enhanced
        relay = RelayContext(config: config, muxers: [
            RTMPMuxer.factory(chunkSize: config.rtmp.chunkSize, hevcMode: hevc),
            FLVMuxer.factory(hevcMode: hevc),
            FMP4Muxer.factory(logger: quietLogger),
        ], logger: quietLogger)
        rng = UInt64(seed) &* 0x2545_F491_4F6C_DD1D | 1
    }

    /// The config every pipeline target uses, with `extra` JSON members merged at the top level
    /// (protocol sections, of the types in `sections`). GOP caches are kept small so the memory
    /// bound is meaningful.
    public static func config(_ extra: String = "", sections: [any ConfigSection.Type] = []) -> RelayConfig {
        let json = """
        {"source": {"gop_cache_max_bytes": 2097152, "track_wait_ms": 500}\(extra.isEmpty ? "" : ", " + extra)}
        """
        do {
            return try RelayConfig.parse(Data(json.utf8), sections: sections)
        } catch {
            fatalError("fuzz harness config does not parse: \(error)")
        }
    }

    /// Call after every read the session got: time moves on 10 ms, due timers run, players join
    /// sources that became playable, and (every 32 reads) the memory bound is checked.
    public func afterRead(bytes: Int) {
        fed &+= bytes
        step &+= 1
        loop.advance(by: .milliseconds(10))
        attachPlayers()
        if step % 32 == 0 { checkMemory() }
    }

    /// Whether the target should feed more input (see `inputSeconds`).
    public var withinTimeBudget: Bool {
        guard Self.inputSeconds > 0, step % 16 == 0 else { return true }
        return Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9 < Self.inputSeconds
    }

    private func random(_ n: Int) -> Int {
        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
        return Int(truncatingIfNeeded: rng % UInt64(n))
    }

    private func attachPlayers() {
        for source in relay.registry.sources where sources.count < 4 && !sources.contains(where: { $0 === source }) {
            guard source.eventLoop === loop, source.assumeIsolated({ $0.isReady && !$0.isClosed }) else { continue }
            sources.append(source)
            attachRTMP(source)
            attachRTSP(source)
            late.append((source, step + 1 + random(16)))
        }
        late.removeAll { entry in
            guard entry.atStep <= step else { return false }
            if entry.source.assumeIsolated({ !$0.isClosed }) {
                attachFLV(entry.source)
                attachFMP4(entry.source)
                attachTS(entry.source)
                attachRTMP(entry.source)
            }
            return true
        }
    }

    private func playerChannel(_ check: any OutputCheck) -> ManualChannel {
        let channel = ManualChannel(loop: loop, remote: try? SocketAddress(ipAddress: "127.0.0.1", port: 40000 + playerChannels.count))
        channel.onWrite = { check.consume($0) }
        channel.activate()
        playerChannels.append(channel)
        return channel
    }

    private func sink(_ channel: ManualChannel, _ protocolName: String) -> ChannelSink {
        ChannelSink(id: relay.nextID(), channel: channel,
                    info: SessionInfo(sessionID: "player\(playerChannels.count)", protocolName: protocolName,
                                      remoteAddress: "127.0.0.1:\(40000 + playerChannels.count)"),
                    policy: SlowPlayerPolicy(relay.config.player), logger: quietLogger)
    }

    private func attachRTMP(_ source: Source) {
        let channel = playerChannel(RTMPOutputCheck(chunkSize: relay.config.rtmp.chunkSize, monotonic: monotonic))
        let player = sink(channel, "rtmp")
        _ = source.assumeIsolated { $0.attach(player, kind: .rtmp) }
    }

    private func attachFLV(_ source: Source) {
        let channel = playerChannel(FLVOutputCheck(monotonic: monotonic))
        let player = sink(channel, "http-flv")
        _ = source.assumeIsolated { $0.attach(player, kind: .flv) }
    }

    private func attachFMP4(_ source: Source) {
        let channel = playerChannel(FMP4OutputCheck())
        let player = sink(channel, "fmp4")
        _ = source.assumeIsolated { $0.attach(player, kind: .fmp4) }
    }

    /// The HLS TS TransStream (a segment per packet) as the HLS segmenter gets it.
    private func attachTS(_ source: Source) {
        let channel = playerChannel(TSOutputCheck())
        let player = sink(channel, "hls")
        let factory = MuxerFactory(kind: .hlsTS, mergePolicy: .fixed(ms: 0)) { TSMuxer(logger: quietLogger) }
        _ = source.assumeIsolated { $0.attach(player, kind: .hlsTS, muxer: factory) }
    }

    private func attachRTSP(_ source: Source) {
        let streams = source.assumeIsolated { $0.streams }.prefix(64)
        guard !streams.isEmpty else { return }
        let layout = RTPChannelLayout(streams.enumerated().map { i, stream in
            RTPChannelLayout.Entry(streamIndex: stream.index, rtp: UInt8(2 * i), rtcp: UInt8(2 * i + 1))
        })
        let check = RTSPOutputCheck(rtp: Set(layout.entries.map(\.rtp)), rtcp: Set(layout.entries.map(\.rtcp)))
        let channel = playerChannel(check)
        let tcp = sink(channel, "rtsp")
        let player = RTSPPlayerSink(id: tcp.id, eventLoop: loop, info: tcp.info, layout: layout, output: .tcp(tcp)) { _ in }
        _ = source.assumeIsolated { $0.attach(player, kind: layout.kind, muxer: RTPMuxer.factory(layout: layout)) }
    }

    /// The pipeline holds at most `memoryBudget` plus four times the bytes fed so far.
    public func checkMemory() {
        let held = Int(fuzz_allocated_bytes()) - baseline
        invariant(held <= Self.memoryBudget + 4 * fed,
                  "the pipeline holds \(held) bytes after \(fed) input bytes (\(step) reads)")
    }

    /// Ends the input: the publisher connections close (as a dropped TCP connection or a closed
    /// UDP port), timers run out, players go; afterwards no source may be left and nothing of this
    /// input may stay referenced (LSan checks the rest).
    public func finish(closing publishers: [ManualChannel]) {
        checkMemory()
        for channel in publishers where channel.isOpen { channel.close(promise: nil) }
        loop.drain()
        let left = relay.registry.sources
        for source in left where source.eventLoop === loop {
            source.assumeIsolated { $0.close(reason: "fuzz teardown") }
        }
        loop.drain()
        for channel in playerChannels where channel.isOpen { channel.close(promise: nil) }
        loop.drain()
        if verbose {
            print("fuzz: allocated before \(baseline), \(step) reads, \(fed) bytes fed, \(sources.count) source(s) played, player bytes "
                  + playerChannels.map { String($0.bytesWritten) }.joined(separator: " "))
        }
        invariant(left.isEmpty, "\(left.count) source(s) still registered after the publisher left and every timer ran")
        playerChannels.removeAll()
        sources.removeAll()
        late.removeAll()
    }
}
