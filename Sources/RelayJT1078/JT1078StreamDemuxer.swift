import NIOCore
import RelayCore

/// Turns one stream's reassembled frames into tracks and packets: Annex-B video to the relay's
/// length-prefixed access units (parameter sets parsed into the track), G.711 as is, AAC out of
/// its ADTS headers, G.726 and IMA ADPCM transcoded to G.711 A-law; the HiSilicon audio header is
/// stripped; timestamps (ms) start near zero and survive terminal clock jumps.
public struct JT1078StreamDemuxer: Sendable {
    public static let videoIndex = 0
    public static let audioIndex = 1
    public static let timebase = 1000

    public private(set) var videoStream: AVStream?
    public private(set) var audioStream: AVStream?
    public private(set) var videoFrames = 0
    public private(set) var audioFrames = 0
    public private(set) var droppedFrames = 0

    /// Parameter sets / SEI that came in frames of their own, waiting for their picture.
    private var held: [ByteBuffer] = []
    private var heldBytes = 0
    private var waitKey = true
    private var clock = Clock()
    private var noticed: Set<String> = []
    private let allocator = ByteBufferAllocator()
    private var transcoder: JT1078AudioTranscoder
    private var transcoded: [JT1078AudioTranscoder.Output] = []

    static let maxHeldBytes = 256 << 10

    public init(audio: JT1078AudioSettings = JT1078AudioSettings()) {
        transcoder = JT1078AudioTranscoder(settings: audio)
    }

    /// Video resumes at the next key frame (data was lost).
    public mutating func discontinuity() {
        waitKey = true
        held.removeAll()
        heldBytes = 0
    }

    public mutating func frame(_ frame: JT1078Frame, into events: inout [MediaEvent]) {
        guard let codec = JT1078PayloadType.codec(frame.payloadType) else {
            droppedFrames += 1
            notice("payload type \(JT1078PayloadType.name(frame.payloadType)) is not supported: its frames are dropped",
                   key: "pt\(frame.payloadType)", into: &events)
            return
        }
        if codec.isVideo {
            video(frame, codec: codec, into: &events)
        } else {
            audio(frame, codec: codec, into: &events)
        }
    }

    // MARK: video

    private mutating func video(_ frame: JT1078Frame, codec: CodecID, into events: inout [MediaEvent]) {
        var nals: [ByteBuffer] = []
        var vps: [ByteBuffer] = []
        var sps: [ByteBuffer] = []
        var pps: [ByteBuffer] = []
        var hasVCL = false
        var isKey = false
        for nal in AnnexB.split(frame.body) {
            guard let header = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else { continue }
            if codec == .h264 {
                switch header & 0x1F {
                case 9, 12: continue  // access unit delimiter, filler
                case 7: sps.append(nal)
                case 8: pps.append(nal)
                case 5: hasVCL = true; isKey = true
                case 1...4: hasVCL = true
                default: break
                }
            } else {
                switch header >> 1 & 0x3F {
                case 35, 38: continue
                case 32: vps.append(nal)
                case 33: sps.append(nal)
                case 34: pps.append(nal)
                case 16...21: hasVCL = true; isKey = true
                case 0...31: hasVCL = true
                default: break
                }
            }
            nals.append(nal)
        }
        if !hasVCL {
            // Parameter sets or SEI sent as a frame of their own: they go with the next picture.
            heldBytes += nals.reduce(0) { $0 + $1.readableBytes }
            held.append(contentsOf: nals)
            if heldBytes > Self.maxHeldBytes {
                held.removeAll()
                heldBytes = 0
                notice("video frames without a picture kept coming (over \(Self.maxHeldBytes) bytes): dropped",
                       key: "held", into: &events)
            }
            return
        }
        if !held.isEmpty {
            for nal in held {
                guard let header = nal.getInteger(at: nal.readerIndex, as: UInt8.self) else { continue }
                let type = codec == .h264 ? header & 0x1F : header >> 1 & 0x3F
                if codec == .h264 {
                    if type == 7 { sps.insert(nal, at: 0) } else if type == 8 { pps.insert(nal, at: 0) }
                } else {
                    if type == 32 { vps.insert(nal, at: 0) } else if type == 33 { sps.insert(nal, at: 0) } else if type == 34 { pps.insert(nal, at: 0) }
                }
            }
            nals = held + nals
            held.removeAll()
            heldBytes = 0
        }
        updateVideoStream(codec: codec, vps: vps, sps: sps, pps: pps, into: &events)
        guard let stream = videoStream, stream.codec == codec else {
            droppedFrames += 1
            notice("\(codec) frames before the first parameter sets are dropped", key: "noparams\(codec)", into: &events)
            return
        }
        if waitKey {
            guard isKey else {
                droppedFrames += 1
                return
            }
            waitKey = false
        }
        if frame.unterminated {
            notice("a video frame ended without its last sub-package mark: the terminal's marks are incomplete; frames are cut where the next one starts",
                   key: "unterminated", into: &events)
        }
        let time = clock.time(frame.timestamp, into: &events)
        videoFrames += 1
        events.append(.packet(AVPacket(streamIndex: stream.index, codec: codec, dts: time, pts: time, isKeyFrame: isKey,
                                       payload: AnnexB.lengthPrefixed(nals, allocator: allocator))))
    }

    private mutating func updateVideoStream(codec: CodecID, vps: [ByteBuffer], sps: [ByteBuffer], pps: [ByteBuffer],
                                            into events: inout [MediaEvent]) {
        let current = videoStream?.codec == codec ? videoStream?.video : nil
        let vps = vps.isEmpty ? (current?.vps ?? []) : vps
        let sps = sps.isEmpty ? (current?.sps ?? []) : sps
        let pps = pps.isEmpty ? (current?.pps ?? []) : pps
        guard !sps.isEmpty, !pps.isEmpty, codec == .h264 || !vps.isEmpty else { return }
        if let current, current.sps == sps, current.pps == pps, current.vps == (codec == .h265 ? vps : []) { return }
        do {
            // Own copies: the parameter sets outlive the receive buffers they were cut from.
            let copy = { (nals: [ByteBuffer]) in nals.map { ByteBuffer(buffer: $0) } }
            let stream = codec == .h265
                ? try AVStream.h265(index: Self.videoIndex, timebase: Self.timebase, vps: copy(vps), sps: copy(sps), pps: copy(pps))
                : try AVStream.h264(index: Self.videoIndex, timebase: Self.timebase, sps: copy(sps), pps: copy(pps))
            if videoStream != nil && videoStream?.codec != codec { waitKey = true }
            videoStream = stream
            events.append(.stream(stream))
        } catch {
            notice("\(codec) parameter sets could not be parsed (\(error)); waiting for usable ones", key: "badparams\(codec)",
                   into: &events)
        }
    }

    // MARK: audio

    private mutating func audio(_ frame: JT1078Frame, codec: CodecID, into events: inout [MediaEvent]) {
        var body = frame.body
        if HiSiliconAudioHeader.isPresent(in: body) {
            body.moveReaderIndex(forwardBy: 4)
            notice("audio frames carry the HiSilicon 4-byte header (00 01 xx 00): stripped", key: "hisilicon", into: &events)
        }
        guard body.readableBytes > 0 else { return }
        let time = clock.time(frame.timestamp, into: &events)
        if JT1078AudioTranscoder.isTranscoded(frame.payloadType) {
            transcode(body, frame: frame, time: time, into: &events)
            return
        }
        switch codec {
        case .g711a, .g711u:
            if audioStream?.codec != codec {
                let stream = AVStream.g711(codec, index: Self.audioIndex, timebase: Self.timebase)
                audioStream = stream
                events.append(.stream(stream))
            }
            audioFrames += 1
            var payload = allocator.buffer(capacity: body.readableBytes)
            payload.writeImmutableBuffer(body)
            events.append(.packet(AVPacket(streamIndex: Self.audioIndex, codec: codec, dts: time, pts: time,
                                           isKeyFrame: true, payload: payload)))
        case .aac:
            aac(body, time: time, into: &events)
        default:
            break
        }
    }

    /// G.726 / IMA ADPCM → A-law packets on a G.711 A-law track.
    private mutating func transcode(_ body: ByteBuffer, frame: JT1078Frame, time: Int64, into events: inout [MediaEvent]) {
        transcoded.removeAll(keepingCapacity: true)
        transcoder.transcode(body, payloadType: frame.payloadType, terminalTime: frame.timestamp, time: time,
                             allocator: allocator, into: &transcoded)
        for output in transcoded {
            switch output {
            case .notice(let text, let key):
                notice(text, key: key, into: &events)
            case .dropped:
                droppedFrames += 1
            case .frame(let payload, let t):
                if audioStream?.codec != .g711a {
                    let stream = AVStream.g711(.g711a, index: Self.audioIndex, timebase: Self.timebase)
                    audioStream = stream
                    events.append(.stream(stream))
                }
                audioFrames += 1
                events.append(.packet(AVPacket(streamIndex: Self.audioIndex, codec: .g711a, dts: t, pts: t,
                                               isKeyFrame: true, payload: payload)))
            }
        }
    }

    /// AAC arrives in ADTS frames (one or more per JT/T 1078 frame).
    private mutating func aac(_ body: ByteBuffer, time: Int64, into events: inout [MediaEvent]) {
        var body = body
        var index = 0
        while body.readableBytes >= 7 {
            guard let header = try? AAC.ADTSHeader(parsing: body), header.frameLength <= body.readableBytes,
                  header.payloadLength > 0 else {
                droppedFrames += 1
                notice("AAC without a valid ADTS header is dropped", key: "adts", into: &events)
                return
            }
            let config = header.config.encoded()
            if audioStream?.codec != .aac || audioStream?.extradata != config {
                guard let stream = try? AVStream.aac(index: Self.audioIndex, timebase: Self.timebase, asc: config) else {
                    notice("AAC configuration not usable: dropped", key: "asc", into: &events)
                    return
                }
                audioStream = stream
                events.append(.stream(stream))
            }
            var payload = allocator.buffer(capacity: header.payloadLength)
            guard let data = body.getSlice(at: body.readerIndex + header.headerLength, length: header.payloadLength),
                  body.readableBytes >= header.frameLength else { break }
            payload.writeImmutableBuffer(data)
            body.moveReaderIndex(forwardBy: header.frameLength)
            let t = time &+ Int64(index * 1024 * 1000 / max(header.sampleRate, 1))
            index += 1
            audioFrames += 1
            events.append(.packet(AVPacket(streamIndex: Self.audioIndex, codec: .aac, dts: t, pts: t, isKeyFrame: true,
                                           payload: payload)))
        }
    }

    private mutating func notice(_ text: String, key: String, into events: inout [MediaEvent]) {
        guard noticed.insert(key).inserted else { return }
        events.append(.notice(text))
    }

    /// Terminal milliseconds → stream time starting at 0. A jump of over 10 s back or 60 s ahead (a
    /// terminal reboot, a clock set) continues the stream time instead of following the jump.
    struct Clock: Sendable {
        private var base: UInt64?
        private var offset: Int64 = 0
        private var last: UInt64 = 0
        private var latest: Int64 = 0

        mutating func time(_ ts: UInt64, into events: inout [MediaEvent]) -> Int64 {
            guard let b = base else {
                base = ts
                last = ts
                return 0
            }
            if ts &+ 10_000 < last || ts > last &+ 60_000 {
                events.append(.notice("terminal timestamp jumped from \(last) to \(ts) ms: stream time continues"))
                offset = latest &+ 40
                base = ts
                last = ts
                latest = offset
                return offset
            }
            last = ts
            // Terminal times are 64-bit: clamped, wrapping arithmetic (never a trap).
            let t = max(0, offset &+ (ts >= b ? Int64(clamping: ts - b) : -Int64(clamping: b - ts)))
            latest = max(latest, t)
            return t
        }
    }
}
