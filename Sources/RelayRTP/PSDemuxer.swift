import NIOCore
import RelayCore

/// MPEG program stream (GB28181 RTP payload) → AVStream/AVPacket.
///
/// - Pack headers in the MPEG-1 and MPEG-2 forms, system headers, program stream maps; padding
///   and private stream 2 are skipped, and private stream 1 (0xBD) unless it is audio: typed as
///   audio by the map, or (not in the map) carrying ADTS. Otherwise it is private data
///   (Hikvision's) and skipped.
/// - Video: H.264 (0x1B) and H.265 (0x24) on 0xE0-0xEF, PES spanning many RTP packets, frames in
///   many PES, frames sharing a PES; frames are cut from the bitstream (see
///   `AccessUnitAssembler`), emitted at once when the RTP layer says a frame ended
///   (`endOfFrame`). Payloads are converted to 4-byte length prefixes once here. Streams without
///   a map (maps are often sent with key frames only) are recognized from their parameter sets.
/// - Audio on 0xC0-0xDF: AAC with ADTS (0x0F) split into raw frames; G.711 A-law (0x90) and µ-law
///   (0x91) as is. A stream id missing from the map takes the type of the map's only audio entry
///   (devices that announce 0x90 but send on another id); without a map, ADTS is recognized by its
///   header and anything else is taken as G.711 A-law, the GB28181 default.
/// - Times: 33-bit PTS/DTS unwrapped, re-based to start near 0 (timebase 90000); absent or
///   broken time stamps fall back to arrival time (`PSClock`).
/// - Video is dropped until the first key frame, and again after `discontinuity()` (a restart or
///   malformed data) until the next one. A `loss()` costs only the frames the lost data belonged
///   to (`VideoLossPolicy`). Audio waits for the first key frame too (up to 4 s), so a source
///   never becomes playable without its video.
///
/// Every buffer is bounded: PS unit headers ≤ 64 KiB, a video frame ≤ `maxFrameBytes`, one
/// audio PES ≤ 64 KiB, junk ≤ `maxGarbageBytes`; exceeding one throws a `PSError`.
public struct PSDemuxer: Sendable {
    public struct Options: Sendable {
        public var maxFrameBytes: Int
        public var maxGarbageBytes: Int
        public var videoIndex: Int
        public var audioIndex: Int
        /// Where video resumes after `loss()`.
        public var lossPolicy: VideoLossPolicy
        public init(maxFrameBytes: Int = 8 << 20, maxGarbageBytes: Int = 256 << 10, videoIndex: Int = 0, audioIndex: Int = 1,
                    lossPolicy: VideoLossPolicy = .nextFrame) {
            self.maxFrameBytes = maxFrameBytes
            self.maxGarbageBytes = maxGarbageBytes
            self.videoIndex = videoIndex
            self.audioIndex = audioIndex
            self.lossPolicy = lossPolicy
        }
    }

    public struct Stats: Sendable, Equatable {
        public var videoFrames: UInt64 = 0
        public var audioFrames: UInt64 = 0
        /// Video frames dropped while waiting for a key frame.
        public var droppedFrames: UInt64 = 0
        /// Video frames dropped incomplete: data of theirs was lost (`loss()`), or their start was.
        public var damagedFrames: UInt64 = 0
        public var discontinuities: UInt64 = 0
    }

    public static let timebase = 90000

    public let options: Options
    public private(set) var stats = Stats()

    private var parser: PSParser
    private var video: AccessUnitAssembler
    private var clock = PSClock()
    private var videoID: UInt8?
    private var audioID: UInt8?
    private var map: PSStreamMap?
    private var announced: (video: Bool, audio: Bool)?
    private var videoStream: AVStream?
    private var audioStream: AVStream?
    private var audioCodec: CodecID?
    private var audioDisabled = false
    private var audioPES = ByteBuffer()
    private var audioPESTime: (pts: Int64, dts: Int64)?
    private var audioPESArrival: Int64 = 0
    private var aacCarry = ByteBuffer()
    private var audioStreamPending = false
    private var videoStarted = false
    private var heldAudio: [(packet: AVPacket, arrival: Int64)] = []
    private var audioHoldStart: Int64?
    /// 0xBD was found to carry private data, not audio.
    private var privateStream1IsData = false
    /// Raw times of a 0xBD PES being probed.
    private var probeTimes: (pts: UInt64?, dts: UInt64?)?
    /// PES times of the video stream by elementary-stream offset of their payload.
    private var videoTimes: [(offset: Int64, pts: Int64, dts: Int64)] = []
    private var waitKey = true
    private var arrival: Int64 = 0
    private var noticed: Set<String> = []
    private var scratch: [VideoAccessUnit] = []

    public init(options: Options = Options()) {
        self.options = options
        self.parser = PSParser(maxGarbage: options.maxGarbageBytes)
        self.video = AccessUnitAssembler(maxBytes: options.maxFrameBytes)
    }

    /// The codec of the video stream, once announced or recognized.
    public var videoCodec: CodecID? { video.codec }
    /// Whether RTP frame-end hints are (still being checked, trusted, found wrong).
    public var frameHints: AccessUnitAssembler.HintTrust { video.hintTrust }

    /// Feeds the next piece of the program stream (an RTP payload, or any chunk of a file).
    /// `arrival` is the receive time in 90 kHz ticks of any monotonic clock.
    public mutating func feed(_ data: ByteBuffer, arrival: Int64, into events: inout [MediaEvent]) throws {
        self.arrival = arrival
        parser.append(data)
        try drain(into: &events)
    }

    /// The RTP layer says a frame ended (marker bit, or the next packet has a new timestamp):
    /// emit the pending video frame now instead of when the next one starts. Hints are checked
    /// against the bitstream before they are trusted (`AccessUnitAssembler`); a hint in the
    /// middle of a video PES proves them wrong at once.
    public mutating func endOfFrame(into events: inout [MediaEvent]) throws {
        guard video.codec != nil, video.hintTrust != .distrusted else { return }
        scratch.removeAll(keepingCapacity: true)
        if parser.insideVideoPES {
            video.distrustHints()
        } else {
            try video.endOfFrame(arrival: arrival, into: &scratch)
        }
        try emitVideo(into: &events)
    }

    /// Packets were lost: only what they belonged to goes. A frame closed by an RTP hint just
    /// before the loss goes out; any other partial video frame and the audio PES are dropped,
    /// and the parser seeks the next pack header (a frame whose start was lost is skipped there,
    /// or dropped by the assembler for lacking its first slice). Video goes on with the next
    /// complete frame (decoders conceal the missing reference), or waits for a key frame with
    /// `.nextKeyFrame`. Audio lost never costs video: audio packs sit between video frames.
    public mutating func loss(into events: inout [MediaEvent]) {
        scratch.removeAll(keepingCapacity: true)
        if video.loss(arrival: arrival, into: &scratch) { stats.damagedFrames &+= 1 }
        do { try emitVideo(into: &events) } catch { scratch.removeAll(keepingCapacity: true) }
        parser.resync()
        videoTimes.removeAll()
        audioPES.clear()
        audioPESTime = nil
        aacCarry.clear()
        forgetPrivateStream1Probe()
        if options.lossPolicy == .nextKeyFrame {
            if !waitKey { stats.discontinuities &+= 1 }
            waitKey = true
        }
    }

    /// Video frames dropped incomplete, counting the assembler's pictures without a first slice.
    public var damagedFrames: UInt64 { stats.damagedFrames &+ video.brokenPictures }

    /// The stream restarted or moved (a sender restart, another address), or its data was
    /// malformed: drop partial data, seek the next pack header, drop video until a key frame.
    public mutating func discontinuity() {
        parser.resync()
        video.reset()
        videoTimes.removeAll()
        audioPES.clear()
        audioPESTime = nil
        aacCarry.clear()
        forgetPrivateStream1Probe()
        if !waitKey { stats.discontinuities += 1 }
        waitKey = true
    }

    /// End of input (a file): flush the last frame.
    public mutating func finish(into events: inout [MediaEvent]) throws {
        scratch.removeAll(keepingCapacity: true)
        try video.flush(arrival: arrival, into: &scratch)
        try emitVideo(into: &events)
    }

    // MARK: units

    private mutating func drain(into events: inout [MediaEvent]) throws {
        while let unit = try parser.next() {
            switch unit {
            case .map(let m):
                applyMap(m, into: &events)
            case .pesStart(let id, let pts, let dts):
                if id >= 0xE0 {
                    if videoID == nil { videoID = id }
                    guard id == videoID else { continue }
                    if let pts {
                        let p = clock.unwrap(pts)
                        let d = dts.map { clock.unwrap($0) } ?? p
                        videoTimes.append((video.esOffset, p, d))
                        if videoTimes.count > 64 { videoTimes.removeFirst(videoTimes.count - 64) }
                    }
                } else {
                    if id == Self.privateStream1 {
                        // Audio only when the map says so, or (not in the map) its payload is ADTS.
                        let role = privateStream1Role
                        guard role != .data, audioID == nil || audioID == id else { continue }
                        if role == .probe {
                            audioID = id
                            audioPES.clear()
                            audioPESArrival = arrival
                            audioPESTime = nil
                            probeTimes = (pts, dts)
                            continue
                        }
                    }
                    if audioID == nil { audioID = id }
                    guard id == audioID else { continue }
                    audioPES.clear()
                    audioPESArrival = arrival
                    if let pts {
                        let p = clock.unwrap(pts)
                        audioPESTime = (p, dts.map { clock.unwrap($0) } ?? p)
                    } else {
                        audioPESTime = nil
                    }
                }
            case .pesData(let id, let data):
                if id == videoID {
                    scratch.removeAll(keepingCapacity: true)
                    try video.append(data, arrival: arrival, into: &scratch)
                    try emitVideo(into: &events)
                } else if id == audioID {
                    guard audioPES.readableBytes + data.readableBytes <= 65536 else {
                        throw PSError.audioTooLarge(bytes: audioPES.readableBytes + data.readableBytes, limit: 65536)
                    }
                    var data = data
                    audioPES.writeBuffer(&data)
                }
            case .pesEnd(let id):
                if id == Self.privateStream1, id == audioID, privateStream1Role == .probe, !probePrivateStream1() { continue }
                if id == audioID { try audioPESDone(into: &events) }
            case .pack, .systemHeader, .skipped, .end:
                break
            }
        }
    }

    // MARK: private stream 1

    static let privateStream1: UInt8 = 0xBD

    enum PrivateStreamRole { case audio, data, probe }

    /// What 0xBD carries: what the map says; without a map entry, audio if its PES are ADTS
    /// (`probe` until the first one has been looked at), private data otherwise.
    var privateStream1Role: PrivateStreamRole {
        if let entry = map?.entries.first(where: { $0.streamID == Self.privateStream1 }) {
            return Self.audioCodec(entry.streamType) != nil ? .audio : .data
        }
        return privateStream1IsData ? .data : (audioCodec == .aac && audioID == Self.privateStream1 ? .audio : .probe)
    }

    /// A 0xBD PES being probed was cut short (loss, restart): 0xBD is not the audio yet.
    private mutating func forgetPrivateStream1Probe() {
        if probeTimes != nil || (audioID == Self.privateStream1 && privateStream1Role == .probe) { audioID = nil }
        probeTimes = nil
    }

    /// A whole 0xBD PES that no map entry types: ADTS makes it the AAC track (times unwrapped
    /// only now, so private data's stamps never touch the clock); anything else marks 0xBD as
    /// private data for good.
    private mutating func probePrivateStream1() -> Bool {
        let times = probeTimes
        probeTimes = nil
        guard (try? AAC.ADTSHeader(parsing: audioPES)) != nil else {
            privateStream1IsData = true
            audioID = nil
            audioPES.clear()
            return false
        }
        if audioCodec == nil { audioCodec = .aac }
        if let pts = times?.pts {
            let p = clock.unwrap(pts)
            audioPESTime = (p, times?.dts.map { clock.unwrap($0) } ?? p)
        }
        return true
    }

    private mutating func applyMap(_ m: PSStreamMap, into events: inout [MediaEvent]) {
        guard m != map else { return }
        map = m
        var hasVideo = false
        var hasAudio = false
        for e in m.entries {
            if let codec = Self.videoCodec(e.streamType) {
                hasVideo = true
                if e.streamID >= 0xE0 && e.streamID <= 0xEF {
                    if videoID == nil { videoID = e.streamID }
                    if e.streamID == videoID && video.codec != codec {
                        if video.codec != nil { notice("video codec changed to \(codec)", into: &events) }
                        video.setCodec(codec)
                        videoTimes.removeAll()
                        waitKey = true
                    }
                }
            } else if Self.audioCodec(e.streamType) != nil {
                hasAudio = true
            } else if e.streamID >= 0xC0 && e.streamID <= 0xEF {
                notice("unsupported stream type 0x\(hex(e.streamType)) on stream 0x\(hex(e.streamID)) in the program stream map; ignored", into: &events)
            }
        }
        // Audio seen before the map was typed by guesswork: type it again from the map.
        if audioCodec != nil && !audioDisabled { audioCodec = nil }
        if audioDisabled && hasAudio { audioDisabled = false }
        if let a = announced, a == (hasVideo, hasAudio) { return }
        announced = (hasVideo, hasAudio)
        events.append(.tracks(video: hasVideo, audio: hasAudio))
    }

    static func videoCodec(_ type: UInt8) -> CodecID? {
        switch type {
        case 0x1B: return .h264
        case 0x24: return .h265
        default: return nil
        }
    }

    static func audioCodec(_ type: UInt8) -> CodecID? {
        switch type {
        case 0x0F: return .aac
        case 0x90: return .g711a
        case 0x91: return .g711u
        default: return nil
        }
    }

    // MARK: video

    private mutating func emitVideo(into events: inout [MediaEvent]) throws {
        if video.hintsJustDistrusted {
            video.clearHintsJustDistrusted()
            notice("RTP frame-end hints (marker bit, timestamp change) do not match the stream's frames; cutting frames from the bitstream only (one frame more latency)", into: &events)
        }
        for au in scratch {
            try emitVideo(au, into: &events)
        }
        scratch.removeAll(keepingCapacity: true)
    }

    private mutating func emitVideo(_ au: VideoAccessUnit, into events: inout [MediaEvent]) throws {
        // The time of the last PES that started at or before this access unit, used once.
        var time: (pts: Int64, dts: Int64)?
        if let last = videoTimes.lastIndex(where: { $0.offset <= au.startOffset }) {
            time = (videoTimes[last].pts, videoTimes[last].dts)
            videoTimes.removeFirst(last + 1)
        }
        if au.isKey {
            try updateVideoStream(au, into: &events)
        }
        if waitKey {
            guard au.isKey, videoStream != nil else {
                stats.droppedFrames += 1
                return
            }
            waitKey = false
        }
        guard let stream = videoStream else { return }
        let t = clock.stamp(.video, pts: time?.pts, dts: time?.dts, arrival: au.arrival)
        takeClockNotices(into: &events)
        stats.videoFrames += 1
        events.append(.packet(AVPacket(streamIndex: stream.index, codec: au.codec, dts: t.dts, pts: t.pts,
                                       isKeyFrame: au.isKey, payload: au.payload)))
        if !videoStarted {
            // Audio that came with or after this key frame goes out now; older audio is dropped.
            videoStarted = true
            let held = heldAudio
            heldAudio.removeAll()
            for (packet, arrival) in held where arrival >= au.arrival &- 9000 {
                emitAudioNow(packet, into: &events)
            }
        }
    }

    private mutating func updateVideoStream(_ au: VideoAccessUnit, into events: inout [MediaEvent]) throws {
        let v = videoStream?.video
        let vps = au.vps.isEmpty ? (v?.vps ?? []) : au.vps
        let sps = au.sps.isEmpty ? (v?.sps ?? []) : au.sps
        let pps = au.pps.isEmpty ? (v?.pps ?? []) : au.pps
        guard !sps.isEmpty, !pps.isEmpty, au.codec == .h264 || !vps.isEmpty else { return }
        if let current = videoStream, current.codec == au.codec, let v,
           v.sps == sps, v.pps == pps, v.vps == (au.codec == .h265 ? vps : []) {
            return
        }
        do {
            let stream = au.codec == .h265
                ? try AVStream.h265(index: options.videoIndex, timebase: Self.timebase, vps: vps, sps: sps, pps: pps)
                : try AVStream.h264(index: options.videoIndex, timebase: Self.timebase, sps: sps, pps: pps)
            videoStream = stream
            events.append(.stream(stream))
        } catch {
            throw PSError.badParameterSets("\(au.codec): \(error)")
        }
    }

    // MARK: audio

    private mutating func audioPESDone(into events: inout [MediaEvent]) throws {
        defer {
            audioPES.clear()
            audioPESTime = nil
        }
        guard audioPES.readableBytes > 0, !audioDisabled, let id = audioID else { return }
        if audioCodec == nil { audioCodec = resolveAudioCodec(id, into: &events) }
        guard let codec = audioCodec else {
            audioDisabled = true
            return
        }
        switch codec {
        case .g711a, .g711u:
            if audioStream?.codec != codec {
                let stream = AVStream.g711(codec, index: options.audioIndex, timebase: Self.timebase)
                audioStream = stream
                audioStreamPending = true
            }
            let bytes = Int64(audioPES.readableBytes)
            let t = clock.stamp(.audio, pts: audioPESTime?.pts, dts: audioPESTime?.dts, arrival: audioPESArrival,
                                duration: bytes * 90000 / 8000)
            takeClockNotices(into: &events)
            stats.audioFrames += 1
            emitAudio(AVPacket(streamIndex: options.audioIndex, codec: codec, dts: t.dts, pts: t.pts,
                               isKeyFrame: true, payload: audioPES), arrival: audioPESArrival, into: &events)
        case .aac:
            try aacFrames(into: &events)
        default:
            break
        }
    }

    private mutating func resolveAudioCodec(_ id: UInt8, into events: inout [MediaEvent]) -> CodecID? {
        if let map {
            if let entry = map.entries.first(where: { $0.streamID == id }) {
                if let codec = Self.audioCodec(entry.streamType) { return codec }
                if Self.videoCodec(entry.streamType) == nil {
                    notice("audio stream type 0x\(hex(entry.streamType)) on 0x\(hex(id)) is not supported; audio dropped", into: &events)
                    return nil
                }
            }
            let audio = map.entries.compactMap { Self.audioCodec($0.streamType) }
            if audio.count == 1 {
                notice("audio on stream 0x\(hex(id)) is not in the program stream map; taking the map's \(audio[0])", into: &events)
                return audio[0]
            }
        }
        if (try? AAC.ADTSHeader(parsing: audioPES)) != nil { return .aac }
        if let b0 = audioPES.getInteger(at: audioPES.readerIndex, as: UInt8.self),
           let b1 = audioPES.getInteger(at: audioPES.readerIndex + 1, as: UInt8.self),
           b0 == 0xFF, b1 & 0xE0 == 0xE0, b1 & 0x06 != 0 {
            notice("MPEG-1/2 audio (layer \(4 - Int(b1 >> 1 & 0x03))) on stream 0x\(hex(id)) is not supported; audio dropped", into: &events)
            return nil
        }
        return .g711a
    }

    private mutating func aacFrames(into events: inout [MediaEvent]) throws {
        var first = true
        if aacCarry.readableBytes == 0 {
            swap(&aacCarry, &audioPES)
        } else {
            aacCarry.writeBuffer(&audioPES)
        }
        while aacCarry.readableBytes >= 7 {
            let header: AAC.ADTSHeader
            do {
                header = try AAC.ADTSHeader(parsing: aacCarry)
            } catch {
                notice("AAC audio without a valid ADTS header (\(error)); skipping to the next PES", into: &events)
                aacCarry.clear()
                break
            }
            guard var frame = aacCarry.readSlice(length: header.frameLength) else { break }
            frame.moveReaderIndex(forwardBy: header.headerLength)
            let asc = header.config.encoded()
            if audioStream?.codec != .aac || audioStream?.extradata != asc {
                do {
                    let stream = try AVStream.aac(index: options.audioIndex, timebase: Self.timebase, asc: asc)
                    audioStream = stream
                    audioStreamPending = true
                } catch {
                    notice("AAC configuration unusable (\(error)); audio dropped", into: &events)
                    audioDisabled = true
                    aacCarry.clear()
                    return
                }
            }
            let duration = Int64(1024 * 90000 / max(header.sampleRate, 1))
            let t = clock.stamp(.audio, pts: first ? audioPESTime?.pts : nil, dts: first ? audioPESTime?.dts : nil,
                                arrival: audioPESArrival, duration: duration, continuation: !first)
            takeClockNotices(into: &events)
            first = false
            stats.audioFrames += 1
            emitAudio(AVPacket(streamIndex: options.audioIndex, codec: .aac, dts: t.dts, pts: t.pts,
                               isKeyFrame: true, payload: frame), arrival: audioPESArrival, into: &events)
        }
        if aacCarry.readableBytes == 0 {
            aacCarry.clear()
        } else if aacCarry.readableBytes > 8192 {
            throw PSError.audioTooLarge(bytes: aacCarry.readableBytes, limit: 8192)
        } else {
            aacCarry.discardReadBytes()
        }
    }

    /// Until the first video key frame, audio is held back (bounded): a Source told to expect
    /// video and audio would otherwise become playable with audio alone after `track_wait_ms`
    /// when a device starts mid-GOP or its first key frame is lost, and never forward the video.
    /// Streams whose map announces no video, or whose video does not start within 4 s, get their
    /// audio at once.
    private mutating func emitAudio(_ packet: AVPacket, arrival: Int64, into events: inout [MediaEvent]) {
        if !videoStarted && !(announced.map { !$0.video } ?? false) {
            let holdStart = audioHoldStart ?? arrival
            audioHoldStart = holdStart
            if arrival &- holdStart < Self.audioHoldTicks {
                heldAudio.append((packet, arrival))
                if heldAudio.count > Self.maxHeldAudio { heldAudio.removeFirst(heldAudio.count - Self.maxHeldAudio) }
                return
            }
            videoStarted = true  // no video in time: audio alone
            notice("no video key frame within \(Self.audioHoldTicks / 90000) s; audio goes out alone", into: &events)
            let held = heldAudio
            heldAudio.removeAll()
            for (p, _) in held { emitAudioNow(p, into: &events) }
        }
        emitAudioNow(packet, into: &events)
    }

    private mutating func emitAudioNow(_ packet: AVPacket, into events: inout [MediaEvent]) {
        if audioStreamPending, let stream = audioStream {
            audioStreamPending = false
            events.append(.stream(stream))
        }
        events.append(.packet(packet))
    }

    static let audioHoldTicks: Int64 = 4 * 90000
    static let maxHeldAudio = 256

    // MARK: notices

    private mutating func takeClockNotices(into events: inout [MediaEvent]) {
        guard !clock.notices.isEmpty else { return }
        for n in clock.notices { events.append(.notice(n)) }
        clock.notices.removeAll()
    }

    /// Each distinct remark once per stream.
    private mutating func notice(_ text: String, into events: inout [MediaEvent]) {
        if noticed.insert(text).inserted && noticed.count < 64 { events.append(.notice(text)) }
    }
}
