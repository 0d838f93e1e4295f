import NIOCore
import RelayCore
import RelayRTP

/// The TransStream muxer of GB28181 cascade senders (`OutputKind.rtpPS`): each frame becomes one
/// PS pack (`PSMuxer`: system header and map before every video key frame, parameter sets in
/// band), cut into RTP packets of at most 1400 payload bytes stamped with the frame's PTS on the
/// 90 kHz clock, the marker on each frame's last packet, every packet RFC 4571 framed. TCP
/// senders write the segments as they are; UDP senders send each framed packet as a datagram.
public final class GBSenderMuxer: Muxer {
    public let format: RTPPSFormat
    private var writer: RTPPacketWriter
    private var ps: PSMuxer?
    private var video: AVStream?
    private var audio: AVStream?
    /// Of the AAC track, for the ADTS header each frame needs in PS.
    private var aacConfig: AAC.AudioSpecificConfig?
    /// One frame's pack, reused (its slices are copied into the segment before it is cleared).
    private var pack = ByteBuffer()
    /// Audio-only streams have no key frames: the map goes out this often instead (90 kHz).
    private var lastMap: Int64?
    static let audioOnlyMapInterval: Int64 = 90_000

    public init(format: RTPPSFormat, sequence: UInt16 = .random(in: 0...UInt16.max)) {
        self.format = format
        self.writer = RTPPacketWriter(framing: RFC4571Framing(), payloadType: format.payloadType,
                                      ssrc: format.ssrc, sequence: sequence)
    }

    public static func factory(_ format: RTPPSFormat) -> MuxerFactory {
        MuxerFactory(kind: .rtpPS(format)) { GBSenderMuxer(format: format) }
    }

    /// Nothing before media: the map travels in band. Picks the tracks PS can carry.
    public func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer) {
        configure(streams)
    }

    public func configChanged(_ stream: AVStream, streams: [AVStream], into buffer: inout ByteBuffer) {
        configure(streams)
    }

    private func configure(_ streams: [AVStream]) {
        // An audio-only sender (a voice broadcast) leaves the video out.
        video = format.audioOnly ? nil : streams.first { $0.kind == .video && PSMuxer.streamType($0.codec) != nil }
        audio = streams.first { $0.kind == .audio && PSMuxer.streamType($0.codec) != nil }
        aacConfig = audio?.codec == .aac ? audio.flatMap { try? AAC.AudioSpecificConfig(parsing: $0.extradata) } : nil
        ps = video == nil && audio == nil ? nil : PSMuxer(video: video?.codec, audio: audio?.codec)
    }

    public func mux(_ packet: AVPacket, stream: AVStream, into buffer: inout ByteBuffer) {
        guard let ps else { return }
        let pts = packet.pts.rescaled(from: stream.timebase, to: 90_000)
        pack.clear()
        if packet.streamIndex == video?.index {
            let nals = Self.nalUnits(packet, stream: stream)
            guard !nals.isEmpty else { return }
            ps.writeVideo(nals: nals, pts: pts, dts: packet.dts.rescaled(from: stream.timebase, to: 90_000),
                          isKey: packet.isKeyFrame, into: &pack)
        } else if packet.streamIndex == audio?.index {
            guard let frame = audioFrame(packet) else { return }
            if video == nil, lastMap.map({ pts < $0 || pts &- $0 >= Self.audioOnlyMapInterval }) ?? true {
                lastMap = pts
                PSMuxer.writePackHeader(scr: pts, into: &pack)
                ps.writeSystemHeader(into: &pack)
                ps.writeMap(into: &pack)
                PSMuxer.writePES(streamID: ps.audioStreamID, payload: frame, pts: pts, dts: nil, into: &pack)
            } else {
                ps.writeAudio(frame, pts: pts, into: &pack)
            }
        } else {
            return
        }
        writer.writeFragmented(pack, marker: true, timestamp: UInt32(truncatingIfNeeded: pts), into: &buffer)
    }

    /// The access unit's NAL units, after the track's parameter sets when a key frame carries none.
    static func nalUnits(_ packet: AVPacket, stream: AVStream) -> [ByteBuffer] {
        var nals: [ByteBuffer] = []
        let spsType: UInt8 = packet.codec == .h264 ? 7 : 33
        if packet.isKeyFrame, let v = stream.video,
           !LengthPrefixedNALIterator.contains(in: packet.payload, where: { nalType($0, codec: packet.codec) == spsType }) {
            nals = (v.vps + v.sps + v.pps).filter { $0.readableBytes > 0 }
        }
        var it = LengthPrefixedNALIterator(packet.payload)
        // A length that overruns ends the unit; a flood of tiny units is cut (as NALPacketizer does).
        while nals.count < NALPacketizer.maxNALUnits, let nal = try? it.next() {
            if nal.readableBytes > 0 { nals.append(nal) }
        }
        return nals
    }

    static func nalType(_ nal: ByteBuffer, codec: CodecID) -> UInt8? {
        guard let first = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else { return nil }
        return codec == .h264 ? first & 0x1F : first >> 1 & 0x3F
    }

    /// AAC in PS is ADTS: a header from the track's AudioSpecificConfig before each raw frame.
    /// A frame must fit one PES packet (a publisher's oversized G.711 message is dropped).
    private func audioFrame(_ packet: AVPacket) -> ByteBuffer? {
        guard packet.codec == .aac else {
            return (1...PSMuxer.maxPESPayload).contains(packet.payload.readableBytes) ? packet.payload : nil
        }
        guard let config = aacConfig,
              let header = try? AAC.ADTSHeader(config: config, payloadLength: packet.payload.readableBytes) else { return nil }
        var frame = ByteBuffer()
        frame.reserveCapacity(7 + packet.payload.readableBytes)
        header.write(into: &frame)
        frame.writeImmutableBuffer(packet.payload)
        return frame
    }
}
