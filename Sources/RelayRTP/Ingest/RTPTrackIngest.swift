import Logging
import NIOCore
import RelayCore

/// RTP of one publisher (RTSP RECORD or an RTSP pull): reordered when `reorder` (UDP),
/// depacketized by the shared depacketizers, stamped on one arrival-anchored clock per session
/// (`RTPArrivalClock`) so A/V line up, emitted as MediaEvents. H.264/H.265 are configured from
/// the SDP and from in-band parameter sets (a change is a new `.stream`); their units wait
/// until a configuration is known. `now` is nanoseconds of a monotonic clock
/// (`RTPTrackIngest.nowNanos()`).
/// Not Sendable: one per session, used on its event loop.
public final class RTPTrackIngest {
    private enum Depacketizer {
        case video(H26xDepacketizer)
        case aac(AACDepacketizer)
        case latm(LATMDepacketizer)
        case g711(G711Depacketizer)

        mutating func push(_ packet: RTPPacket, emit: (RTPAccessUnit) -> Void) {
            switch self {
            case .video(var d): d.push(packet, emit: emit); self = .video(d)
            case .aac(var d): d.push(packet, emit: emit); self = .aac(d)
            case .latm(var d): d.push(packet, emit: emit); self = .latm(d)
            case .g711(var d): d.push(packet, emit: emit); self = .g711(d)
            }
        }

        var parameterSets: H26xDepacketizer.ParameterSets? {
            if case .video(let d) = self { return d.parameterSets }
            return nil
        }
    }

    private struct Track {
        let spec: RTPIngestTrack
        var stream: AVStream?
        var order: RTPReorderBuffer<RTPPacket>
        var depacketizer: Depacketizer
        var reception = RTPReceptionStats()
    }

    private var tracks: [Track]
    private let logger: Logger
    private var clock = RTPArrivalClock()
    private var loggedMalformed = false
    private var loggedForeign = false
    private var loggedConfig = false

    public private(set) var packets: UInt64 = 0
    public private(set) var bytes: UInt64 = 0
    /// Packets that did not parse as RTP, named an unknown track or another payload type.
    public private(set) var dropped: UInt64 = 0

    /// How long a UDP packet waits for a gap before it (a network's reordering, not loss repair).
    static let holdNanos: Int64 = 100_000_000
    /// The first packets are collected this long before delivery starts at the lowest sequence
    /// number, so a first key frame whose packets came out of order is kept.
    static let settleNanos: Int64 = 50_000_000
    static let reorderCapacity = 512

    public init(tracks: [RTPIngestTrack], reorder: Bool, logger: Logger) {
        self.logger = logger
        self.tracks = tracks.map { spec in
            let depacketizer: Depacketizer
            switch spec.codec {
            case .h264: depacketizer = .video(H26xDepacketizer(codec: .h264))
            case .h265: depacketizer = .video(H26xDepacketizer(codec: .h265))
            case .aac where spec.parameters["latm"] != nil: depacketizer = .latm(LATMDepacketizer())
            case .aac:
                let p = spec.parameters
                func field(_ key: String, _ fallback: Int) -> Int { p[key].flatMap { Int($0) } ?? fallback }
                let lbr = p["mode"]?.lowercased() == "aac-lbr"
                depacketizer = .aac(AACDepacketizer(sizeLength: field("sizelength", lbr ? 6 : 13),
                                                    indexLength: field("indexlength", lbr ? 2 : 3),
                                                    indexDeltaLength: field("indexdeltalength", lbr ? 2 : 3),
                                                    samplesPerAccessUnit: field("constantduration", 1024)))
            default: depacketizer = .g711(G711Depacketizer())
            }
            let order = RTPReorderBuffer<RTPPacket>(capacity: reorder ? Self.reorderCapacity : 0,
                                                    holdNanos: reorder ? Self.holdNanos : nil,
                                                    settleNanos: reorder ? Self.settleNanos : 0)
            return Track(spec: spec, stream: spec.stream, order: order, depacketizer: depacketizer)
        }
    }

    /// `.tracks` and every `.stream` known from the SDP.
    public func start(_ emit: (MediaEvent) -> Void) {
        emit(.tracks(video: tracks.contains { $0.spec.codec.isVideo }, audio: tracks.contains { !$0.spec.codec.isVideo }))
        for track in tracks { if let stream = track.stream { emit(.stream(stream)) } }
    }

    /// One RTP packet of track `streamIndex` (malformed: dropped, counted, logged once).
    public func receive(rtp: ByteBuffer, streamIndex: Int, now: Int64, _ emit: (MediaEvent) -> Void) {
        guard let i = tracks.firstIndex(where: { $0.spec.streamIndex == streamIndex }) else {
            drop(foreign: "RTP for unknown track \(streamIndex)")
            return
        }
        guard let packet = try? RTPPacket(parsing: rtp) else {
            dropped &+= 1
            if !loggedMalformed {
                loggedMalformed = true
                logger.warning("dropping malformed RTP (\(rtp.readableBytes) bytes) of track \(streamIndex); further ones are counted only")
            }
            return
        }
        guard packet.payloadType == tracks[i].spec.payloadType else {
            drop(foreign: "RTP payload type \(packet.payloadType) on track \(streamIndex) (expected \(tracks[i].spec.payloadType))")
            return
        }
        packets &+= 1
        bytes &+= UInt64(rtp.readableBytes)
        tracks[i].reception.received(ssrc: packet.ssrc, sequence: packet.sequence, timestamp: packet.timestamp,
                                     clockRate: tracks[i].spec.clockRate, now: now)
        var ready: [RTPPacket] = []
        tracks[i].order.push(packet, sequence: packet.sequence, now: now, bytes: packet.payload.readableBytes) { output in
            if case .packet(let p) = output { ready.append(p) }
        }
        for p in ready { depacketize(p, track: i, now: now, emit) }
    }

    /// Releases packets held for reordering whose gap timed out (call every ~20 ms when `reorder`).
    public func tick(now: Int64, _ emit: (MediaEvent) -> Void) {
        for i in tracks.indices {
            guard let deadline = tracks[i].order.deadline, deadline <= now else { continue }
            var ready: [RTPPacket] = []
            tracks[i].order.expire(now: now) { output in
                if case .packet(let p) = output { ready.append(p) }
            }
            for p in ready { depacketize(p, track: i, now: now, emit) }
        }
    }

    /// An RTCP compound of the publisher's for track `streamIndex`: its sender report is kept
    /// for the next receiver report (LSR/DLSR). Nothing else is read.
    public func receive(rtcp: ByteBuffer, streamIndex: Int, now: Int64) {
        guard let i = tracks.firstIndex(where: { $0.spec.streamIndex == streamIndex }) else { return }
        for report in RTCPReport.parse(rtcp).reports {
            guard let sender = report.sender, report.ssrc == tracks[i].reception.ssrc else { continue }
            tracks[i].reception.senderReport(ntp: sender.ntp, now: now)
        }
    }

    /// Per track heard from: packets, lost, highest sequence, jitter, last SR — the blocks of an
    /// RTCP receiver report (`RTCP.writeReceiverReport`). Advances the fraction-lost interval.
    public func receiverReportBlocks(now: Int64 = RTPTrackIngest.nowNanos()) -> [RTCPReportBlock] {
        tracks.indices.compactMap { tracks[$0].reception.block(now: now) }
    }

    /// The publisher's SSRC on track `streamIndex`, once heard.
    public func ssrc(of streamIndex: Int) -> UInt32? {
        tracks.first { $0.spec.streamIndex == streamIndex }?.reception.ssrc
    }

    public static func nowNanos() -> Int64 { Int64(clamping: NIODeadline.now().uptimeNanoseconds) }

    // MARK: units

    private func depacketize(_ packet: RTPPacket, track i: Int, now: Int64, _ emit: (MediaEvent) -> Void) {
        var units: [RTPAccessUnit] = []
        tracks[i].depacketizer.push(packet) { units.append($0) }
        for unit in units { deliver(unit, track: i, now: now, emit) }
    }

    private func deliver(_ unit: RTPAccessUnit, track i: Int, now: Int64, _ emit: (MediaEvent) -> Void) {
        let spec = tracks[i].spec
        if spec.codec.isVideo, unit.parameterSetsChanged || tracks[i].stream == nil {
            configure(track: i, emit)
        }
        guard tracks[i].stream != nil else { return }  // video waits for its parameter sets
        let dts = clock.ticks(track: spec.streamIndex, rtpTime: unit.rtpTime, clockRate: spec.clockRate, now: now)
        emit(.packet(AVPacket(streamIndex: spec.streamIndex, codec: spec.codec, dts: dts, pts: dts,
                              isKeyFrame: unit.isKeyFrame, payload: unit.payload)))
    }

    /// A configuration from the in-band parameter sets, when they make one that differs.
    private func configure(track i: Int, _ emit: (MediaEvent) -> Void) {
        guard let sets = tracks[i].depacketizer.parameterSets, let sps = sets.sps, let pps = sets.pps else { return }
        let spec = tracks[i].spec
        let stream: AVStream
        do {
            if spec.codec == .h265 {
                guard let vps = sets.vps else { return }
                stream = try AVStream.h265(index: spec.streamIndex, timebase: spec.clockRate, vps: [vps], sps: [sps], pps: [pps])
            } else {
                stream = try AVStream.h264(index: spec.streamIndex, timebase: spec.clockRate, sps: [sps], pps: [pps])
            }
        } catch {
            if !loggedConfig {
                loggedConfig = true
                logger.warning("unusable in-band \(spec.codec) parameter sets on track \(spec.streamIndex): \(error)")
            }
            return
        }
        guard stream != tracks[i].stream else { return }
        tracks[i].stream = stream
        emit(.stream(stream))
    }

    private func drop(foreign what: String) {
        dropped &+= 1
        guard !loggedForeign else { return }
        loggedForeign = true
        logger.warning("dropping \(what); further ones are counted only")
    }
}
