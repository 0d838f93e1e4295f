import Logging
import NIOCore
import RelayCore
import RelayRTP
import Testing

/// RTPIngestTracks on the SDPs real publishers announce, and RTPTrackIngest on packetized
/// frames (in order, reordered, lost, duplicated) and garbage.
@Suite struct RTPIngestTests {
    /// ffmpeg 6's ANNOUNCE (`-c:v libx264 -c:a aac -f rtsp`), as captured.
    static let ffmpegH264AAC = """
        v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r
        m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r
        a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z/QADZGWQFB+wEQAAAMABAAAAwDIPFCpIA==,aOvDxEhE; profile-level-id=F4000D\r
        a=control:streamid=0\r\nm=audio 0 RTP/AVP 97\r\nb=AS:69\r\na=rtpmap:97 MPEG4-GENERIC/44100/1\r
        a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=120856E500\r
        a=control:streamid=1\r\n
        """
    static let ffmpegH265AAC = """
        v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r
        m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r
        a=fmtp:96 sprop-vps=QAEMAf//BAgAAAMAnggAAAMAADyVmAk=; sprop-sps=QgEBBAgAAAMAnggAAAMAADyQAUEB4ssrNJJleAtwICAAQAAAAwBAAAAGQg==; sprop-pps=RAHBcoYMRiQ=\r
        a=control:streamid=0\r\nm=audio 0 RTP/AVP 97\r\nb=AS:128\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r
        a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=119056E500\r
        a=control:streamid=1\r\n
        """
    static let ffmpegH264PCMA = """
        v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r
        m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r
        a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z/QADZGbKCg/YCIAAAMAAgAAAwBkHihTLA==,aOvjxEhE; profile-level-id=F4000D\r
        a=control:streamid=0\r\nm=audio 0 RTP/AVP 8\r\nb=AS:64\r\na=control:streamid=1\r\n
        """

    @Test func ffmpegH264AndAAC() throws {
        let (tracks, unsupported) = RTPIngestTracks.from(try SessionDescription(parsing: Self.ffmpegH264AAC))
        #expect(unsupported.isEmpty)
        try #require(tracks.count == 2)
        #expect(tracks[0].codec == .h264 && tracks[0].streamIndex == 0 && tracks[0].payloadType == 96 && tracks[0].clockRate == 90000)
        #expect(tracks[0].stream?.video?.width == 320 && tracks[0].stream?.video?.height == 240)
        #expect(tracks[1].codec == .aac && tracks[1].streamIndex == 1 && tracks[1].clockRate == 44100)
        #expect(tracks[1].stream?.audio?.sampleRate == 44100 && tracks[1].stream?.audio?.channels == 1)
        #expect(tracks[1].controlURL(base: "rtsp://h:8554/live/x") == "rtsp://h:8554/live/x/streamid=1")
        #expect(tracks[1].controlURL(base: "rtsp://h/live/x/") == "rtsp://h/live/x/streamid=1")
    }

    @Test func ffmpegH265AndAAC() throws {
        let (tracks, _) = RTPIngestTracks.from(try SessionDescription(parsing: Self.ffmpegH265AAC))
        try #require(tracks.count == 2)
        #expect(tracks[0].codec == .h265 && tracks[0].stream?.video?.vps.count == 1)
        #expect(tracks[1].stream?.audio?.channels == 2 && tracks[1].stream?.audio?.sampleRate == 48000)
    }

    @Test func ffmpegH264AndStaticPCMA() throws {
        let (tracks, _) = RTPIngestTracks.from(try SessionDescription(parsing: Self.ffmpegH264PCMA))
        try #require(tracks.count == 2)
        #expect(tracks[1].codec == .g711a && tracks[1].payloadType == 8 && tracks[1].clockRate == 8000)
        #expect(tracks[1].stream == AVStream.g711(.g711a, index: 1, timebase: 8000))
    }

    @Test func unsupportedMediaAreNamedAndSkipped() throws {
        let sdp = try SessionDescription(parsing: """
            v=0\r\nm=audio 0 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=control:a\r
            m=video 0 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\na=control:v\r\nm=video 0 RTP/AVP 98\r\na=rtpmap:98 H264/90000\r
            m=application 0 RTP/AVP 107\r\n
            """)
        let (tracks, unsupported) = RTPIngestTracks.from(sdp)
        #expect(tracks.count == 1 && tracks.first?.codec == .h264 && tracks.first?.stream == nil && tracks.first?.streamIndex == 0)
        #expect(unsupported.count == 3)
        #expect(unsupported[0].contains("OPUS/48000"))
    }

    // MARK: ingest

    /// H.264 units packetized with their parameter sets in-band (no sprop in the SDP).
    static func h264Packets() -> (units: Int, packets: [ByteBuffer]) {
        var writer = RTPPacketWriter(framing: RFC4571Framing(), payloadType: 96, ssrc: 0x1234, sequence: 65500, maxPayload: 1200)
        var packets: [ByteBuffer] = []
        let units = MediaFixtures.h264
        for (i, nals) in units.enumerated() {
            var out = ByteBuffer()
            var au = ByteBuffer()
            for nal in nals {
                au.writeInteger(UInt32(nal.count))
                au.writeBytes(nal)
            }
            NALPacketizer.packetize(au, codec: .h264, timestamp: UInt32(truncatingIfNeeded: 4_294_900_000 &+ i * 3600),
                                    parameterSets: [], writer: &writer, into: &out)
            while let length = out.readInteger(as: UInt16.self), let packet = out.readSlice(length: Int(length)) {
                packets.append(packet)
            }
        }
        return (units.count, packets)
    }

    static let videoOnly = RTPIngestTrack(streamIndex: 0, payloadType: 96, codec: .h264, clockRate: 90000, channels: 1,
                                          control: nil, stream: nil)

    static func run(_ packets: [ByteBuffer], reorder: Bool) -> (streams: [AVStream], packets: [AVPacket], ingest: RTPTrackIngest) {
        let ingest = RTPTrackIngest(tracks: [videoOnly], reorder: reorder, logger: Logger(label: "test"))
        var streams: [AVStream] = [], out: [AVPacket] = []
        let collect: (MediaEvent) -> Void = { event in
            if case .stream(let s) = event { streams.append(s) }
            if case .packet(let p) = event { out.append(p) }
        }
        ingest.start(collect)
        var now: Int64 = 1_000_000_000
        for p in packets {
            now += 1_000_000
            ingest.receive(rtp: p, streamIndex: 0, now: now, collect)
        }
        ingest.tick(now: now + 1_000_000_000, collect)
        return (streams, out, ingest)
    }

    @Test func inOrderUnitsAllArriveConfiguredFromInBandSets() throws {
        let (count, packets) = Self.h264Packets()
        let (streams, out, ingest) = Self.run(packets, reorder: false)
        #expect(streams.count == 1 && streams.first?.codec == .h264)
        // The last unit waits for the next timestamp or its marker: the packetizer sets it.
        #expect(out.count == count)
        #expect(out.first?.isKeyFrame == true)
        #expect(zip(out, out.dropFirst()).allSatisfy { $0.dts < $1.dts })  // across the 32-bit wrap
        #expect(ingest.packets == UInt64(packets.count))
        let blocks = ingest.receiverReportBlocks(now: 3_000_000_000)
        #expect(blocks.count == 1 && blocks[0].ssrc == 0x1234 && blocks[0].cumulativeLost == 0)
        #expect(blocks[0].highestSequence == (1 << 16) | UInt32(UInt16(truncatingIfNeeded: 65500 + packets.count - 1)))
    }

    @Test func reorderedAndDuplicatedUDPPacketsAreRepaired() throws {
        let (count, packets) = Self.h264Packets()
        var shuffled: [ByteBuffer] = []
        var i = 0
        while i < packets.count {
            if i + 1 < packets.count { shuffled += [packets[i + 1], packets[i], packets[i]] } else { shuffled.append(packets[i]) }
            i += 2
        }
        let (_, out, ingest) = Self.run(shuffled, reorder: true)
        #expect(out.count == count)
        #expect(ingest.receiverReportBlocks().first?.cumulativeLost ?? 1 <= 0)
    }

    @Test func aLostPacketCostsOnlyItsUnit() throws {
        let (count, packets) = Self.h264Packets()
        var lossy = packets
        lossy.remove(at: packets.count / 2)
        let (_, out, ingest) = Self.run(lossy, reorder: true)
        #expect(out.count == count - 1 || out.count == count - 2)  // its unit (and one that lost its start)
        #expect(ingest.receiverReportBlocks().first?.cumulativeLost == 1)
    }

    @Test func garbageIsDroppedAndCounted() {
        let ingest = RTPTrackIngest(tracks: [Self.videoOnly], reorder: true, logger: Logger(label: "test"))
        var events = 0
        var rng = SystemRandomNumberGenerator()
        for n in 0..<2000 {
            var b = ByteBuffer()
            b.writeBytes((0..<(n % 40)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            ingest.receive(rtp: b, streamIndex: n % 3, now: Int64(n) * 1_000_000) { _ in events += 1 }
            ingest.tick(now: Int64(n) * 1_000_000) { _ in events += 1 }
        }
        #expect(ingest.dropped > 0)
        #expect(events == 0 || ingest.packets > 0)
    }

    /// GStreamer's rtspclientsink sends AAC as MP4A-LATM (cpresent=0, StreamMuxConfig in the SDP).
    @Test func latmAACFromTheSDPConfiguration() throws {
        let sdp = try SessionDescription(parsing: """
            v=0\r\nm=audio 0 RTP/AVP 96\r\na=rtpmap:96 MP4A-LATM/44100/2\r
            a=fmtp:96 cpresent=0;config=400024203fc0\r\na=control:stream=0\r\n
            """)
        let (tracks, _) = RTPIngestTracks.from(sdp)
        let track = try #require(tracks.first)
        #expect(track.codec == .aac && track.stream?.audio?.sampleRate == 44100 && track.stream?.audio?.channels == 2)
        let inBand = try SessionDescription(parsing: "v=0\r\nm=audio 0 RTP/AVP 96\r\na=rtpmap:96 MP4A-LATM/44100/2\r\n")
        #expect(RTPIngestTracks.from(inBand).tracks.isEmpty)  // cpresent=1: not ingested

        let ingest = RTPTrackIngest(tracks: [track], reorder: false, logger: Logger(label: "test"))
        var units: [AVPacket] = []
        let au = ByteBuffer(bytes: (0..<300).map { UInt8(truncatingIfNeeded: $0) })
        for n in 0..<3 {
            // One AU split over two packets, the marker on the second.
            var first = ByteBuffer(bytes: [255, 45])
            first.writeImmutableBuffer(au.getSlice(at: 0, length: 100)!)
            let parts = [first, au.getSlice(at: 100, length: 200)!]
            for (k, part) in parts.enumerated() {
                var bytes = ByteBuffer()
                RTPPacket(marker: k == 1, payloadType: 96, sequence: UInt16(2 * n + k), timestamp: UInt32(n * 1024), ssrc: 5,
                          payload: part).write(into: &bytes)
                ingest.receive(rtp: bytes, streamIndex: 0, now: Int64(n) * 23_000_000) { event in
                    if case .packet(let p) = event { units.append(p) }
                }
            }
        }
        #expect(units.count == 3)
        #expect(units.allSatisfy { $0.payload == au && $0.codec == .aac })
    }
}
