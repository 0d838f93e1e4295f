import Foundation
import NIOCore
import RelayCore
@testable import RelayGB28181
import RelayRTP
import RelayTestSupport
import Testing

/// The cascade sender's RTP/PS muxer: RFC 4571 framing, payloads ≤ 1400 bytes, the marker on
/// each frame's last packet, 90 kHz timestamps, the map before every key frame, parameter sets
/// and ADTS headers in band. The PS itself is read back by ffmpeg in InteropTests.
@Suite struct GBSenderMuxerTests {
    static let format = RTPPSFormat(ssrc: 100_000_042, payloadType: 97)

    struct Packet {
        var header: RTPHeader
        var payload: ByteBuffer
    }

    /// Every framed packet of a segment; fails on a frame that is not a whole RTP packet.
    static func packets(_ buffer: ByteBuffer) throws -> [Packet] {
        var rest = buffer
        var out: [Packet] = []
        while rest.readableBytes > 0 {
            let length = rest.readInteger(as: UInt16.self).map(Int.init) ?? Int.max
            let frame = rest.readSlice(length: min(length, rest.readableBytes + 1))
            let bytes = try #require(frame, "frame of \(length) bytes overruns the segment")
            let p = try RTPPacket(parsing: bytes)
            out.append(Packet(header: p.header, payload: p.payload))
        }
        return out
    }

    static func video(_ codec: CodecID = .h264) -> AVStream {
        let params: VideoParameters = codec == .h264
            ? VideoParameters(width: 1280, height: 720, profile: 77, level: 31, sps: [hexBuffer(MediaFixtures.h264Main720SPS)],
                              pps: [hexBuffer(MediaFixtures.h264Main720PPS)])
            : VideoParameters(width: 1280, height: 720, profile: 1, level: 93, vps: [hexBuffer(MediaFixtures.hevcMain720VPS)],
                              sps: [hexBuffer(MediaFixtures.hevcMain720SPS)], pps: [hexBuffer(MediaFixtures.hevcMain720PPS)])
        return AVStream(index: 0, codec: codec, timebase: 1000, video: params)
    }

    static func frame(_ nals: [[UInt8]], ms: Int64, key: Bool, codec: CodecID = .h264) -> AVPacket {
        var payload = ByteBuffer()
        AnnexB.writeLengthPrefixed(nals.map { ByteBuffer(bytes: $0) }, into: &payload)
        return AVPacket(streamIndex: 0, codec: codec, dts: ms, pts: ms, isKeyFrame: key, payload: payload)
    }

    /// The concatenated payloads of the packets with `timestamp` (one frame's pack).
    static func pack(_ packets: [Packet], timestamp: UInt32) -> [UInt8] {
        packets.filter { $0.header.timestamp == timestamp }.flatMap { Array($0.payload.readableBytesView) }
    }

    static func count(_ needle: [UInt8], in hay: [UInt8]) -> Int {
        guard hay.count >= needle.count else { return 0 }
        return (0...(hay.count - needle.count)).filter { hay[$0..<($0 + needle.count)].elementsEqual(needle) }.count
    }

    @Test func framesArePacketizedWithMarkerPayloadBoundAndNinetyKilohertzTimestamps() throws {
        let aac = try AVStream.aac(index: 1, timebase: 44_100, sampleRate: 44_100, channels: 2)
        let streams = [Self.video(), aac]
        let muxer = GBSenderMuxer(format: Self.format, sequence: 65_530)
        var out = ByteBuffer()
        muxer.writeHeader(streams: streams, into: &out)
        #expect(out.readableBytes == 0, "the map travels in band, not in a header")
        let idr = [0x65] + pattern(9_000, seed: 3)
        muxer.mux(Self.frame([idr], ms: 0, key: true), stream: streams[0], into: &out)
        muxer.mux(AVPacket(streamIndex: 1, codec: .aac, dts: 1024, pts: 1024, isKeyFrame: true, payload: patternBuffer(300)),
                  stream: aac, into: &out)
        muxer.mux(Self.frame([[0x41] + pattern(2_000, seed: 5)], ms: 40, key: false), stream: streams[0], into: &out)
        muxer.mux(Self.frame([[0x65] + pattern(1_500, seed: 7)], ms: 2000, key: true), stream: streams[0], into: &out)

        let packets = try Self.packets(out)
        #expect(packets.allSatisfy { $0.payload.readableBytes <= 1400 && $0.payload.readableBytes > 0 })
        #expect(packets.allSatisfy { $0.header.ssrc == 100_000_042 && $0.header.payloadType == 97 })
        // Sequence numbers count on through the 16-bit wrap.
        #expect(packets.enumerated().allSatisfy { $0.element.header.sequence == UInt16(truncatingIfNeeded: 65_530 + $0.offset) })
        // 90 kHz: video ms × 90, AAC 1024 samples at 44.1 kHz = 2089 ticks.
        let stamps = packets.map(\.header.timestamp).reduce(into: [UInt32]()) { if $0.last != $1 { $0.append($1) } }
        #expect(stamps == [0, 2089, 3600, 180_000])
        // One marker per frame, on its last packet.
        for (i, p) in packets.enumerated() {
            let last = i == packets.count - 1 || packets[i + 1].header.timestamp != p.header.timestamp
            #expect(p.header.marker == last, "packet \(i) (ts \(p.header.timestamp)) marker \(p.header.marker)")
        }
        #expect(packets.filter { $0.header.timestamp == 0 }.count == 7, "a 9 KB key frame needs 7 packets of ≤ 1400 bytes")

        let psm: [UInt8] = [0, 0, 1, 0xBC], sys: [UInt8] = [0, 0, 1, 0xBB], packHeader: [UInt8] = [0, 0, 1, 0xBA]
        let key = Self.pack(packets, timestamp: 0), delta = Self.pack(packets, timestamp: 3600)
        let audio = Self.pack(packets, timestamp: 2089), key2 = Self.pack(packets, timestamp: 180_000)
        for p in [key, delta, audio, key2] { #expect(Array(p.prefix(4)) == packHeader) }
        #expect(Self.count(psm, in: key) == 1 && Self.count(sys, in: key) == 1 && Self.count(psm, in: key2) == 1)
        #expect(Self.count(psm, in: delta) == 0 && Self.count(psm, in: audio) == 0)
        // Parameter sets in band before the IDR (Annex-B), the IDR after them.
        let sps = [0, 0, 0, 1] + hexBytes(MediaFixtures.h264Main720SPS), pps = [0, 0, 0, 1] + hexBytes(MediaFixtures.h264Main720PPS)
        #expect(Self.count(sps + pps + [0, 0, 0, 1, 0x65], in: key) == 1)
        #expect(Self.count(sps, in: delta) == 0)
        // AAC as ADTS: a 7-byte header (frame length 307) before the raw frame, on stream 0xC0.
        #expect(Self.count([0, 0, 1, 0xC0], in: audio) == 1)
        let adts = try AAC.ADTSHeader(parsing: ByteBuffer(bytes: audio.suffix(307)))
        #expect(adts.frameLength == 307 && adts.sampleRate == 44_100 && adts.channelConfiguration == 2)
        #expect(Array(audio.suffix(300)) == pattern(300))
    }

    /// B-frames: the RTP timestamp is the PTS; the PES carries PTS and DTS, the pack's SCR the DTS.
    @Test func reorderedFramesCarryPTSAndDTS() throws {
        let stream = Self.video()
        let muxer = GBSenderMuxer(format: Self.format)
        var out = ByteBuffer()
        muxer.writeHeader(streams: [stream], into: &out)
        var frame = Self.frame([[0x41] + pattern(100)], ms: 40, key: false)
        frame.pts = 120
        muxer.mux(frame, stream: stream, into: &out)
        let packets = try Self.packets(out)
        #expect(packets.map(\.header.timestamp) == [10_800])
        let pack = Array(packets[0].payload.readableBytesView)
        // PES header after the 14-byte pack header: 00 00 01 E0, length, 0x80, flags 0xC0 (PTS+DTS), 10 bytes.
        #expect(Array(pack[14..<18]) == [0, 0, 1, 0xE0] && pack[20] == 0x80 && pack[21] == 0xC0 && pack[22] == 10)
        let pts = Int(pack[23] >> 1 & 0x07) << 30 | Int(pack[24]) << 22 | Int(pack[25] >> 1) << 15 | Int(pack[26]) << 7 | Int(pack[27] >> 1)
        let dts = Int(pack[28] >> 1 & 0x07) << 30 | Int(pack[29]) << 22 | Int(pack[30] >> 1) << 15 | Int(pack[31]) << 7 | Int(pack[32] >> 1)
        #expect(pts == 10_800 && dts == 3600)
    }

    @Test func aKeyFrameThatCarriesItsParameterSetsGetsNoSecondCopy() throws {
        let stream = Self.video(.h265)
        let muxer = GBSenderMuxer(format: Self.format)
        var out = ByteBuffer()
        muxer.writeHeader(streams: [stream], into: &out)
        let vps = hexBytes(MediaFixtures.hevcMain720VPS), sps = hexBytes(MediaFixtures.hevcMain720SPS)
        let pps = hexBytes(MediaFixtures.hevcMain720PPS), idr = [0x26, 0x01] + pattern(500)
        muxer.mux(Self.frame([vps, sps, pps, idr], ms: 0, key: true, codec: .h265), stream: stream, into: &out)
        muxer.mux(Self.frame([idr], ms: 1000, key: true, codec: .h265), stream: stream, into: &out)
        let packets = try Self.packets(out)
        let first = Self.pack(packets, timestamp: 0), second = Self.pack(packets, timestamp: 90_000)
        #expect(Self.count([0, 0, 0, 1] + sps, in: first) == 1)
        #expect(Self.count([0, 0, 0, 1] + vps, in: second) == 1 && Self.count([0, 0, 0, 1] + sps, in: second) == 1)
        // The map names H.265 (stream type 0x24) for 0xE0.
        #expect(Self.count([0x24, 0xE0], in: first) == 1)
    }

    @Test func audioOnlyStreamsCarryTheMapEverySecond() throws {
        let alaw = AVStream.g711(.g711a, index: 0, timebase: 8000)
        let muxer = GBSenderMuxer(format: Self.format)
        var out = ByteBuffer()
        muxer.writeHeader(streams: [alaw], into: &out)
        for i in 0..<30 {  // 40 ms frames: 1.2 s
            muxer.mux(AVPacket(streamIndex: 0, codec: .g711a, dts: Int64(i * 320), pts: Int64(i * 320), isKeyFrame: true,
                               payload: patternBuffer(320)), stream: alaw, into: &out)
        }
        let packets = try Self.packets(out)
        #expect(packets.count == 30 && packets.allSatisfy(\.header.marker))
        let withMap = packets.enumerated().filter { Self.count([0, 0, 1, 0xBC], in: Array($0.element.payload.readableBytesView)) == 1 }
        #expect(withMap.map(\.offset) == [0, 25], "the map at 0 s and 1 s")
        #expect(Self.count([0x90, 0xC0], in: Array(packets[0].payload.readableBytesView)) == 1, "G.711 A-law is stream type 0x90")
        // A frame no PES packet can hold (a publisher's oversized message) is dropped, not written.
        out.clear()
        muxer.mux(AVPacket(streamIndex: 0, codec: .g711a, dts: 9600, pts: 9600, isKeyFrame: true, payload: patternBuffer(70_000)),
                  stream: alaw, into: &out)
        #expect(out.readableBytes == 0)
    }

    @Test func tracksPSCannotCarryAreLeftOut() throws {
        let opus = AVStream(index: 1, codec: .opus, timebase: 48_000, audio: AudioParameters(sampleRate: 48_000, channels: 2))
        let muxer = GBSenderMuxer(format: Self.format)
        var out = ByteBuffer()
        muxer.writeHeader(streams: [Self.video(), opus], into: &out)
        muxer.mux(AVPacket(streamIndex: 1, codec: .opus, dts: 0, pts: 0, isKeyFrame: true, payload: patternBuffer(100)), stream: opus, into: &out)
        #expect(out.readableBytes == 0)
        // A truncated access unit sends what parses; an empty one sends nothing.
        var broken = ByteBuffer(bytes: [0, 0, 0, 3, 0x41, 1, 2, 0, 0, 0, 200, 1])
        muxer.mux(AVPacket(streamIndex: 0, codec: .h264, dts: 0, pts: 0, isKeyFrame: false, payload: broken), stream: Self.video(), into: &out)
        #expect(try Self.packets(out).count == 1)
        broken = ByteBuffer()
        out.clear()
        muxer.mux(AVPacket(streamIndex: 0, codec: .h264, dts: 40, pts: 40, isKeyFrame: false, payload: broken), stream: Self.video(), into: &out)
        #expect(out.readableBytes == 0)
    }
}

/// The body of `POST /api/v1/gb28181/senders`.
@Suite struct GBSenderRequestTests {
    func parse(_ json: String) throws -> GBSenderRequest {
        guard case .object(let o) = try JSONValue.parse(Data(json.utf8)) else { throw AdminFailure.badRequest("not an object") }
        return try GBSenderRequest(o)
    }

    func error(_ json: String) -> String? {
        do { _ = try parse(json); return nil } catch let e as AdminFailure { return e.message } catch { return "\(error)" }
    }

    @Test func defaults() throws {
        let r = try parse(#"{"stream": "live/a", "ssrc": "0100000001", "dest": "192.0.2.1:6000"}"#)
        #expect(r.mode == .udp && r.payloadType == 96 && r.ssrc == 100_000_001 && r.connectTimeoutMs == 10_000)
        let p = try parse(#"{"stream": "live/a", "ssrc": "1", "mode": "tcp-passive", "payload_type": 0, "connect_timeout_ms": 500}"#)
        #expect(p.dest == nil && p.payloadType == 0 && p.connectTimeoutMs == 500)
        #expect(try parse(#"{"stream": "a", "ssrc": "2", "dest": "[2001:db8::1]:6000", "mode": "tcp-active"}"#).dest == "[2001:db8::1]:6000")
    }

    @Test func errorsSayWhat() {
        #expect(error(#"{}"#)?.contains("'stream' is required") == true)
        #expect(error(#"{"stream": "a/../b", "ssrc": "1", "dest": "h:1"}"#)?.contains("not a valid stream id") == true)
        #expect(error(#"{"stream": "a", "dest": "h:1"}"#)?.contains("'ssrc' is required") == true)
        #expect(error(#"{"stream": "a", "ssrc": "12345678901", "dest": "h:1"}"#)?.contains("invalid SSRC") == true)
        #expect(error(#"{"stream": "a", "ssrc": 5, "dest": "h:1"}"#)?.contains("'ssrc' must be a string") == true)
        #expect(error(#"{"stream": "a", "ssrc": "1"}"#)?.contains("'dest' is required for udp") == true)
        #expect(error(#"{"stream": "a", "ssrc": "1", "mode": "tcp-active"}"#)?.contains("'dest' is required for tcp-active") == true)
        #expect(error(#"{"stream": "a", "ssrc": "1", "dest": "h"}"#)?.contains("host:port") == true)
        #expect(error(#"{"stream": "a", "ssrc": "1", "dest": "h:70000"}"#)?.contains("host:port") == true)
        #expect(error(#"{"stream": "a", "ssrc": "1", "dest": "h:1", "mode": "rtp"}"#)?.contains("'mode' must be") == true)
        #expect(error(#"{"stream": "a", "ssrc": "1", "dest": "h:1", "payload_type": 128}"#)?.contains("'payload_type' must be an integer 0...127") == true)
        #expect(error(#"{"stream": "a", "ssrc": "1", "dest": "h:1", "payload_type": "96"}"#)?.contains("'payload_type'") == true)
        #expect(error(#"{"stream": "a", "ssrc": "1", "dest": "h:1", "connect_timeout_ms": 1000}"#)?.contains("udp does not connect") == true)
        #expect(error(#"{"stream": "a", "ssrc": "1", "dest": "h:1", "port": 1}"#)?.contains("unknown field 'port'") == true)
    }
}
