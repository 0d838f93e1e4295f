import Foundation
import NIOCore
import NIOPosix
import RelayBenchKit
import RelayFLV
import RelayRTMP
import Testing

/// Hardening issue, defects 2 and 7, from the outside: a hostile RTMP publisher's timestamps
/// and a flood of tiny frames leave the server up, other streams playing and memory bounded.
@Suite(.serialized)
struct HardeningCoreTests {
    /// Defect 2: audio timestamps alternating 0x80000001 and 0 on a 16,777,215 Hz AAC track, with
    /// an RTSP player attached. On 413d2a0 the RTP muxer's rescale trapped within ~130 k pairs.
    @Test func hostileTimestampsKeepEveryOutputClockMonotonic() async throws {
        let server = try await TestServer.start(
            #""source": {"track_wait_ms": 200, "max_packet_rate": 0, "max_timestamp_jumps_per_minute": 0}"#)
        let publisher = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "ts")
        // AudioSpecificConfig: AAC LC, explicit rate 0xFFFFFF Hz, mono.
        try await publisher.send(RawRTMPPublisher.audio(timestamp: 0, body: [0xAF, 0x00, 0x17, 0xFF, 0xFF, 0xFF, 0x88]))
        try await publisher.send(RawRTMPPublisher.audio(timestamp: 0, body: [0xAF, 0x01, 0x21]))
        #expect(await server.waitPlayable("live/ts"))
        let player = try await RawRTSPPlayer.play(port: server.rtspPort, stream: "live/ts")

        var flood = ByteBuffer()
        for _ in 0..<150_000 {
            RawRTMPPublisher.audio(timestamp: 0x8000_0001, body: [0xAF, 0x01, 0x21], into: &flood)
            RawRTMPPublisher.audio(timestamp: 0, body: [0xAF, 0x01, 0x21], into: &flood)
            if flood.readableBytes > 1 << 20 {
                try await publisher.send(flood)
                flood.clear()
            }
        }
        try await publisher.send(flood)
        // The last packet is through when the source has counted them all.
        let deadline = NIODeadline.now() + .seconds(60)
        while NIODeadline.now() < deadline {
            if let source = server.server.context.registry.source("live/ts"), await source.packetsIn >= 300_001 { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        try await Task.sleep(nanoseconds: 300_000_000)

        let admin = try await timedAdminGet(server.adminPort)
        #expect(admin.status == 200 && admin.ms < 100, "admin answered \(admin.status) in \(admin.ms) ms")
        #expect(!player.isClosed, "the RTSP player was dropped")
        let times = RawRTSPPlayer.rtpTimestamps(in: player.received, channel: 0)
        #expect(times.count > 100_000, "the player got \(times.count) RTP packets")
        var backward = 0
        for (a, b) in zip(times, times.dropFirst()) where Int32(bitPattern: b &- a) < 0 { backward += 1 }
        #expect(backward == 0, "\(backward) RTP timestamps went backwards")
        #expect(await server.log.eventually("timestamp jump on track"))
        await player.close()
        await publisher.close()
        await server.stop()
    }

    /// Defect 2, at the defaults: a publisher whose times jump on every packet is ended with one
    /// log line after `source.max_timestamp_jumps_per_minute`; the server and admin stay up.
    @Test func timestampsThatJumpAllTheTimeEndTheStream() async throws {
        let server = try await TestServer.start(#""source": {"track_wait_ms": 200}"#)
        let publisher = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "ts")
        try await publisher.send(RawRTMPPublisher.audio(timestamp: 0, body: [0xAF, 0x00, 0x17, 0xFF, 0xFF, 0xFF, 0x88]))
        var flood = ByteBuffer()
        for _ in 0..<1000 {
            RawRTMPPublisher.audio(timestamp: 0x8000_0001, body: [0xAF, 0x01, 0x21], into: &flood)
            RawRTMPPublisher.audio(timestamp: 0, body: [0xAF, 0x01, 0x21], into: &flood)
        }
        try await publisher.send(flood)
        #expect(await publisher.waitClosed(seconds: 10), "the publisher was not closed")
        #expect(await server.log.eventually("timestamps jumped"))
        let admin = try await timedAdminGet(server.adminPort)
        #expect(admin.status == 200 && admin.ms < 100, "admin answered \(admin.status) in \(admin.ms) ms")
        await server.stop()
    }

    /// Defect 7: one key frame, then 1-byte audio frames at one timestamp with an HTTP-FLV player
    /// reading. On 413d2a0 each cost ~65 B–1 KiB of RSS that the GOP-cache bound never saw (2.1 GiB
    /// for 32 M frames). Now caches count what they allocate: 200 k frames leave memory bounded.
    @Test func tinyFramesAreCountedAsAllocated() async throws {
        let server = try await TestServer.start(#""source": {"gop_cache_max_bytes": 1048576, "max_packet_rate": 0}"#)
        let flood = try await TinyFrameFlood.start(server)
        let rssBefore = residentBytes()
        _ = try await flood.send(messages: 200_000)
        // Wait until the server has taken them all in.
        let deadline = NIODeadline.now() + .seconds(60)
        while NIODeadline.now() < deadline {
            if let source = server.server.context.registry.source("live/flood"), await source.packetsIn >= 200_000 { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let growth = residentBytes() - rssBefore
        #expect(growth < 64 << 20, "RSS grew by \(growth >> 20) MiB for 200 000 frames of 1 byte")
        let held = server.server.context.memory.usedBytes
        #expect(held < 4 << 20, "sources hold \(held) bytes with 1 MiB caches")
        await flood.expectVictimPlaying()
        await flood.close()
        await server.stop()
    }

    /// Defect 7, the cut-off: a publisher over `source.max_packet_rate` is closed with one log
    /// line; admin and the other stream are untouched.
    @Test func aFloodOfTinyFramesIsCutOff() async throws {
        let server = try await TestServer.start(#""source": {"max_packet_rate": 2000}"#)
        let flood = try await TinyFrameFlood.start(server)
        _ = try await flood.send(messages: 200_000)
        #expect(await flood.publisher.waitClosed(seconds: 10), "the flooding publisher was not closed")
        #expect(await server.log.eventually("max_packet_rate"))
        let admin = try await timedAdminGet(server.adminPort)
        #expect(admin.status == 200 && admin.ms < 100, "admin answered \(admin.status) in \(admin.ms) ms")
        await flood.expectVictimPlaying()
        try await Task.sleep(nanoseconds: 300_000_000)
        let held = server.server.context.memory.usedBytes
        #expect(held < 4 << 20, "\(held) bytes still counted (the victim's caches are ~1 MiB)")
        await flood.close()
        await server.stop()
    }

    /// The AVC sequence header and first key frame of an FLV file, as RTMP video message bodies.
    static func firstVideoTags(of path: String) throws -> (config: [UInt8], key: [UInt8]) {
        var buffer = ByteBuffer(data: try Data(contentsOf: URL(fileURLWithPath: path)))
        var reader = FLVTagReader()
        var config: [UInt8]?
        while let tag = try reader.next(from: &buffer) {
            guard tag.type == FLVTagType.video, tag.body.readableBytes > 5 else { continue }
            let bytes = Array(tag.body.readableBytesView)
            if bytes[1] == 0 { config = bytes } else if let config, bytes[0] >> 4 == 1 { return (config, bytes) }
        }
        throw RawRTMPPublisher.Failed(what: "no AVC sequence header and key frame in \(path)")
    }
}

/// One admin GET and how long it took.
func timedAdminGet(_ port: Int) async throws -> (status: Int, ms: Double) {
    let start = NIODeadline.now()
    let response = try await AdminHTTP(port: port).get("/api/v1/server")
    return (response.status, Double((NIODeadline.now() - start).nanoseconds) / 1e6)
}

/// This process's resident set (bytes), from /proc.
func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return pages * 4096
}

/// A publisher of one key frame and then 1-byte AAC frames at one timestamp, beside a victim
/// stream; the flood stream has an HTTP-FLV reader too.
struct TinyFrameFlood {
    let victim: VictimStream
    let reader: HTTPFLVPlayer
    let publisher: RawRTMPPublisher
    let framesBefore: (flv: Int, rtmp: Int)

    static func start(_ server: TestServer) async throws -> TinyFrameFlood {
        let victim = try await VictimStream.start(server)
        let (config, key) = try HardeningCoreTests.firstVideoTags(of: try await TestMedia.shared.h264AACFLV())
        let publisher = try await RawRTMPPublisher.publish(port: server.rtmpPort, app: "live", stream: "flood")
        try await publisher.send(RawRTMPPublisher.audio(timestamp: 0, body: [0xAF, 0x00, 0x12, 0x10]))  // AAC LC 44.1 kHz
        try await publisher.send(RawRTMPPublisher.video(timestamp: 0, body: config))
        try await publisher.send(RawRTMPPublisher.video(timestamp: 0, body: key))
        #expect(await server.waitPlayable("live/flood"))
        let reader = try await HTTPFLVPlayer.connect(host: "127.0.0.1", port: server.httpPort, path: "/live/flood.flv",
                                                     group: MultiThreadedEventLoopGroup.singleton)
        _ = await reader.wait(timeout: .seconds(5)) { $0.videoFrames > 0 }
        return TinyFrameFlood(victim: victim, reader: reader, publisher: publisher, framesBefore: victim.frames)
    }

    /// Sends up to `messages` frames (stops early when the server hangs up); returns how many.
    func send(messages: Int) async throws -> Int {
        var buffer = ByteBuffer()
        var sent = 0
        while sent < messages && !publisher.isClosed {
            for _ in 0..<10_000 { RawRTMPPublisher.audio(timestamp: 40, body: [0xAF, 0x01, 0x21], into: &buffer) }
            sent += 10_000
            try? await publisher.send(buffer)
            buffer.clear()
        }
        return sent
    }

    func expectVictimPlaying() async { await victim.expectPlaying(since: framesBefore) }

    func close() async {
        await reader.close()
        await publisher.close()
        await victim.stop()
    }
}
