import Logging
import NIOCore
import RelayCore

/// MPEG-TS (ISO/IEC 13818-1) from AVPackets: the muxer of the `.hlsTS` TransStream, whose
/// segments the HLS segmenter turns into media segments.
///
/// One program: PAT, PMT (PID 0x1000), video on 0x100 (H.264 0x1B, H.265 0x24, the PCR PID),
/// audio on 0x101 (AAC in ADTS 0x0F, MP3 0x03/0x04). PAT and PMT precede every video key frame
/// (and, without video, an audio frame at least every second), so a media segment cut before a
/// key frame decodes on its own. G.711 and Opus tracks are left out (logged once).
public final class TSMuxer: Muxer {
    private var tables = TSProgramTables()
    private var video: TSTrack?
    private var audio: TSTrack?
    private let logger: Logger
    /// 90 kHz DTS of the last PCR and of the last PAT/PMT.
    private var lastPCR: Int64?
    private var lastTables: Int64?
    /// Causes already logged (one line per cause per muxer, i.e. per stream).
    private var logged: Set<String> = []
    /// Frames left out: malformed NAL lengths, AAC frames past ADTS's 13-bit length, PES past 64 KiB.
    public private(set) var droppedFrames: UInt64 = 0

    /// PCR runs this far (90 kHz) behind the DTS it is taken from, so data arrives before its decode time.
    static let pcrLead: Int64 = 9_000
    /// A PCR at least this often (90 kHz) on the PCR PID; always on key frames.
    static let pcrInterval: Int64 = 2_700
    /// PAT/PMT repeat for streams without video (90 kHz).
    static let audioOnlyTablesInterval: Int64 = 90_000

    public init(logger: Logger = Logger(label: "relay.mux")) {
        self.logger = logger
    }

    public func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer) {
        configure(streams)
        tables.write(into: &buffer)
    }

    /// New parameter sets go in-band before the next key frame; PAT/PMT again now (a track may
    /// have come or gone).
    public func configChanged(_ stream: AVStream, streams: [AVStream], into buffer: inout ByteBuffer) {
        configure(streams)
        tables.write(into: &buffer)
    }

    public func mux(_ packet: AVPacket, stream: AVStream, into buffer: inout ByteBuffer) {
        let dts = packet.dts.rescaled(from: stream.timebase, to: 90_000)
        let pts = packet.pts.rescaled(from: stream.timebase, to: 90_000)
        if var track = video, track.streamIndex == packet.streamIndex {
            muxVideo(packet, dts: dts, pts: pts, track: &track, into: &buffer)
            video = track
        } else if var track = audio, track.streamIndex == packet.streamIndex {
            muxAudio(packet, dts: dts, track: &track, into: &buffer)
            audio = track
        }
    }

    private func muxVideo(_ packet: AVPacket, dts: Int64, pts: Int64, track: inout TSTrack, into out: inout ByteBuffer) {
        guard case .annexB(let parameterSets) = track.framing else { return }
        let hevc = track.codec == .h265
        guard let au = AnnexBAccessUnit(scanning: packet.payload, hevc: hevc) else {
            drop("a video frame with a malformed or empty NAL unit list")
            return
        }
        let sets = packet.isKeyFrame && !au.carriesParameterSets ? parameterSets : []
        let esBytes = au.delimiterBytes + sets.reduce(0) { $0 + 4 + $1.readableBytes } + au.bytes
        if packet.isKeyFrame { writeTables(at: dts, into: &out) }
        writePES(track: &track, dts: dts, pts: pts, keyFrame: packet.isKeyFrame, esBytes: esBytes, into: &out) { p, out in
            au.writeDelimiter(&p, into: &out)
            for set in sets {
                p.write(UInt32(1), into: &out)
                p.write(set, into: &out)
            }
            au.writeNALUnits(&p, into: &out)
        }
    }

    private func muxAudio(_ packet: AVPacket, dts: Int64, track: inout TSTrack, into out: inout ByteBuffer) {
        if video == nil, lastTables.map({ dts &- $0 >= Self.audioOnlyTablesInterval || dts < $0 }) ?? true {
            writeTables(at: dts, into: &out)
        }
        let frame = packet.payload
        switch track.framing {
        case .adts(let config):
            guard let header = try? AAC.ADTSHeader(config: config, payloadLength: frame.readableBytes) else {
                drop("an AAC frame longer than ADTS's 13-bit frame length")
                return
            }
            writePES(track: &track, dts: dts, pts: dts, keyFrame: false, esBytes: header.frameLength, into: &out) { p, out in
                p.writeFitting(7, into: &out) { header.write(into: &$0) }
                p.write(frame, into: &out)
            }
        case .raw:
            writePES(track: &track, dts: dts, pts: dts, keyFrame: false, esBytes: frame.readableBytes, into: &out) { p, out in
                p.write(frame, into: &out)
            }
        case .annexB:
            return
        }
    }

    /// One PES packet (2.4.3.6) over transport packets: header with PTS (and DTS when they
    /// differ), then `body`'s `esBytes` bytes.
    private func writePES(track: inout TSTrack, dts: Int64, pts: Int64, keyFrame: Bool, esBytes: Int, into out: inout ByteBuffer,
                          body: (inout TSPacketizer, inout ByteBuffer) -> Void) {
        let withDTS = pts != dts
        let headerBytes = 9 + (withDTS ? 10 : 5)
        let (pesBytes, overflow) = headerBytes.addingReportingOverflow(esBytes)
        // PES_packet_length is 16 bits; only video may leave it 0 (unbounded).
        guard !overflow, track.isVideo || pesBytes - 6 <= 0xFFFF else {
            drop("an audio frame too long for one PES packet")
            return
        }
        out.reserveCapacity(minimumWritableBytes: (pesBytes / TS.payloadCapacity + 2) * TS.packetSize)
        var p = TSPacketizer(pid: track.pid, lastCC: track.cc, pesBytes: pesBytes)
        p.start(pcrBase: pcr(for: track, dts: dts, keyFrame: keyFrame), randomAccess: keyFrame, into: &out)
        p.writeFitting(headerBytes, into: &out) { out in
            out.writeInteger(UInt32(0x0000_0100) | UInt32(track.streamID))
            out.writeInteger(UInt16(pesBytes - 6 <= 0xFFFF ? pesBytes - 6 : 0))
            out.writeInteger(UInt8(0x84))  // '10', data_alignment_indicator
            out.writeInteger(UInt8(withDTS ? 0xC0 : 0x80))
            out.writeInteger(UInt8(headerBytes - 9))
            MPEG2Systems.writeTimestamp(pts, prefix: withDTS ? 0x3 : 0x2, into: &out)
            if withDTS { MPEG2Systems.writeTimestamp(dts, prefix: 0x1, into: &out) }
        }
        body(&p, &out)
        if p.finish(into: &out) > 0 {
            logOnce("pes-size", "TS muxer wrote fewer bytes than planned for a PES packet (padded; a bug, please report)")
        }
        track.cc = p.cc
    }

    /// The PCR base for a PES on the PCR PID, if one is due.
    private func pcr(for track: TSTrack, dts: Int64, keyFrame: Bool) -> UInt64? {
        guard track.pid == tables.pcrPID else { return nil }
        if !keyFrame, let last = lastPCR, dts >= last, dts &- last < Self.pcrInterval { return nil }
        lastPCR = dts
        return UInt64(truncatingIfNeeded: dts > Self.pcrLead ? dts - Self.pcrLead : 0)
    }

    private func writeTables(at dts: Int64, into out: inout ByteBuffer) {
        tables.write(into: &out)
        lastTables = dts
    }

    /// Takes the first video and the first audio track TS can carry; PIDs keep their counters.
    private func configure(_ streams: [AVStream]) {
        var newVideo: TSTrack?
        var newAudio: TSTrack?
        for stream in streams {
            let isVideo = stream.kind == .video
            if isVideo ? newVideo != nil : newAudio != nil {
                logOnce("extra-\(stream.index)", "TS muxer carries one video and one audio track: track \(stream.index) (\(stream.codec)) left out")
                continue
            }
            switch TSTrack.make(stream, pid: isVideo ? TS.videoPID : TS.audioPID) {
            case .success(var track):
                track.cc = (isVideo ? video : audio)?.cc ?? track.cc
                if isVideo { newVideo = track } else { newAudio = track }
            case .failure(let refusal):
                logOnce("codec-\(refusal.codec)", "HLS (MPEG-TS) leaves out the \(refusal.codec) track: \(refusal.reason)")
            }
        }
        video = newVideo
        audio = newAudio
        let entries = [newVideo, newAudio].compactMap { $0 }.map { TSProgramTables.Entry(streamType: $0.streamType, pid: $0.pid) }
        tables.update(entries: entries, pcrPID: (newVideo ?? newAudio)?.pid ?? TS.nullPID)
    }

    private func drop(_ what: String) {
        droppedFrames &+= 1
        logOnce(what, "TS muxer dropped \(what) (further drops on this stream are counted, not logged)")
    }

    private func logOnce(_ cause: String, _ message: @autoclosure () -> String) {
        guard logged.count < 32, logged.insert(cause).inserted else { return }
        logger.warning("\(message())")
    }
}
