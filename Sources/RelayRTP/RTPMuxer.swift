import NIOCore
import RelayCore

/// The RTP TransStream's muxer: RTP packets (and RTCP sender reports) framed on the layout's
/// interleaved channels, written once for every player of that layout — RTSP TCP players get the
/// segments as they are, RTSP UDP players and WebRTC viewers send the framed packets as datagrams.
///
/// Timestamps are the packets' pts rescaled to the RTP clock plus a random offset per track.
/// Every video key frame is preceded by a sender report for each track, so a player starting
/// there can synchronize its tracks at once; between key frames reports go every 5 s.
public final class RTPMuxer: Muxer {
    final class Track {
        let entry: RTPChannelLayout.Entry
        let format: RTPFormat
        var writer: RTPPacketWriter
        let offset: UInt32
        var lastReportUs: Int64?

        init(entry: RTPChannelLayout.Entry, format: RTPFormat, maxPayload: Int) {
            self.entry = entry
            self.format = format
            self.writer = RTPPacketWriter(channel: entry.rtp, payloadType: format.payloadType,
                                          ssrc: UInt32.random(in: 1...UInt32.max),
                                          sequence: UInt16.random(in: 0...UInt16.max), maxPayload: maxPayload)
            self.offset = UInt32.random(in: 0...UInt32.max)
        }

        func rtpTime(_ ticks: Int64, timebase: Int) -> UInt32 {
            offset &+ UInt32(truncatingIfNeeded: ticks.rescaled(from: timebase, to: format.clockRate))
        }
    }

    public let layout: RTPChannelLayout
    /// The TransStream kind these bytes serve (`.rtsp(layout)` unless told otherwise).
    public let kind: OutputKind
    private let maxPayload: Int
    private var tracks: [Track] = []
    /// Wall clock (µs since 1970) for media time `mediaAnchorUs`: the NTP side of sender reports.
    private let wallAnchorUs: Int64
    private var mediaAnchorUs: Int64?
    static let reportIntervalUs: Int64 = 5_000_000

    /// `kind`: the TransStream kind of the players (nil: `layout.kind`, RTSP); WebRTC passes its
    /// own so its viewers share one muxer with each other but not with RTSP players.
    public init(layout: RTPChannelLayout, kind: OutputKind? = nil, maxPayload: Int = RTPPacketWriter.defaultMaxPayload) {
        self.layout = layout
        self.kind = kind ?? layout.kind
        self.maxPayload = maxPayload
        self.wallAnchorUs = RTCP.nowMicros()
    }

    public static func factory(layout: RTPChannelLayout, kind: OutputKind? = nil,
                               maxPayload: Int = RTPPacketWriter.defaultMaxPayload,
                               mergePolicy: MergeWritePolicy? = nil) -> MuxerFactory {
        MuxerFactory(kind: kind ?? layout.kind, mergePolicy: mergePolicy) {
            RTPMuxer(layout: layout, kind: kind, maxPayload: maxPayload)
        }
    }

    /// SSRC and first sequence number per RTP channel (tests, logs).
    public var senders: [UInt8: (ssrc: UInt32, sequence: UInt16)] {
        Dictionary(uniqueKeysWithValues: tracks.map { ($0.entry.rtp, ($0.writer.ssrc, $0.writer.sequence)) })
    }

    /// RTP needs no header bytes: codec configuration travels in the SDP and, before key frames,
    /// in band. Sets up the tracks (again after a configuration change: existing ones are kept).
    public func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer) {
        for entry in layout.entries where !tracks.contains(where: { $0.entry.streamIndex == entry.streamIndex }) {
            guard let stream = streams.first(where: { $0.index == entry.streamIndex }), let format = RTPFormat(stream) else { continue }
            tracks.append(Track(entry: entry, format: format, maxPayload: maxPayload))
        }
    }

    /// New parameter sets reach current players in band before the next key frame.
    public func configChanged(_ stream: AVStream, streams: [AVStream], into buffer: inout ByteBuffer) {}

    public func mux(_ packet: AVPacket, stream: AVStream, into buffer: inout ByteBuffer) {
        guard let track = tracks.first(where: { $0.entry.streamIndex == packet.streamIndex }) else { return }
        let mediaUs = packet.dts.rescaled(from: stream.timebase, to: 1_000_000)
        if mediaAnchorUs == nil { mediaAnchorUs = mediaUs }
        if packet.isVideo && packet.isKeyFrame {
            for t in tracks { writeReport(t, atUs: mediaUs, into: &buffer) }
        } else if let last = track.lastReportUs, mediaUs &- last < Self.reportIntervalUs, mediaUs >= last {
            // reported recently
        } else {
            writeReport(track, atUs: mediaUs, into: &buffer)
        }
        let timestamp = track.rtpTime(packet.pts, timebase: stream.timebase)
        switch packet.codec {
        case .h264, .h265:
            let codec: NALPacketizer.Codec = packet.codec == .h264 ? .h264 : .h265
            var sets: [ByteBuffer] = []
            if packet.isKeyFrame, let video = stream.video { sets = video.vps + video.sps + video.pps }
            NALPacketizer.packetize(packet.payload, codec: codec, timestamp: timestamp, parameterSets: sets,
                                    writer: &track.writer, into: &buffer)
        case .aac:
            AACPacketizer.packetize(packet.payload, timestamp: timestamp, writer: &track.writer, into: &buffer)
        case .g711a, .g711u:
            G711Packetizer.packetize(packet.payload, timestamp: timestamp, channels: track.format.channels ?? 1,
                                     writer: &track.writer, into: &buffer)
        case .mp3, .opus:
            return
        }
    }

    private func writeReport(_ track: Track, atUs mediaUs: Int64, into buffer: inout ByteBuffer) {
        track.lastReportUs = mediaUs
        // Wrapping: media times are kept in range by the Source's MediaClock; never trap here anyway.
        let wallUs = wallAnchorUs &+ (mediaUs &- (mediaAnchorUs ?? mediaUs))
        let rtpTime = track.rtpTime(mediaUs, timebase: 1_000_000)
        let writer = track.writer
        Interleaved.write(channel: track.entry.rtcp, into: &buffer) {
            RTCP.writeSenderReport(ssrc: writer.ssrc, ntp: RTCP.ntp(unixMicros: wallUs), rtpTime: rtpTime,
                                   packets: writer.packetCount, octets: writer.octetCount, into: &$0)
        }
    }
}
