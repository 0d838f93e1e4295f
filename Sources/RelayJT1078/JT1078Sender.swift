import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore

/// What a terminal sends: Annex-B video cut into frames, and optional audio frames.
public struct JT1078SendMedia: Sendable {
    public struct VideoFrame: Sendable {
        /// Annex-B (4-byte start codes), parameter sets in band before key frames.
        public var annexB: ByteBuffer
        public var isKey: Bool
    }

    public var videoCodec: CodecID
    public var videoFrames: [VideoFrame]
    public var audioCodec: CodecID?
    /// G.711 chunks, whole ADTS frames, G.726 chunks or IMA ADPCM blocks.
    public var audioFrames: [ByteBuffer]
    public var audioFrameSeconds: Double
    /// The payload type of audio the relay transcodes (G.726, IMA ADPCM); nil: from `audioCodec`.
    public var audioPayloadType: UInt8?

    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// `video`: an Annex-B H.264 / H.265 file (codec from `codec`, else the extension, else the
    /// stream); `audio`: raw G.711 (8 kHz mono), ADTS AAC, raw G.726 code words or an IMA ADPCM
    /// WAV file (codec from `audioCodec`, else the extension: .alaw .pcma .g711a / .ulaw .pcmu
    /// .g711u / .aac .adts / .g726 / .wav; see `TerminalAudio` for the G.726 and ADPCM names).
    public static func load(video: String, codec: String? = nil, audio: String? = nil, audioCodec: String? = nil,
                            audioFrameMs: Int = 40) throws -> JT1078SendMedia {
        guard let data = FileManager.default.contents(atPath: video) else { throw LoadError(description: "cannot read \(video)") }
        let declared = CodecID(videoName: codec ?? CodecID.fileExtension(video))
        if codec != nil && declared == nil { throw LoadError(description: "video codec must be h264 or h265") }
        var media = try make(annexB: ByteBuffer(bytes: data), codec: declared)
        guard let audio else { return media }
        guard let bytes = FileManager.default.contents(atPath: audio) else { throw LoadError(description: "cannot read \(audio)") }
        let name = audioCodec ?? CodecID.fileExtension(audio)
        if let terminal = try TerminalAudio(name: name) {
            try media.addTerminalAudio(ByteBuffer(bytes: bytes), terminal, frameMs: audioFrameMs)
            return media
        }
        guard let acodec = CodecID(audioName: name) else {
            throw LoadError(description: "audio codec must be g711a, g711u, aac, g726[-16|-24|-32|-40] or adpcm")
        }
        try media.addAudio(ByteBuffer(bytes: bytes), codec: acodec, frameMs: audioFrameMs)
        return media
    }

    /// Cuts an Annex-B elementary stream into frames (access units): a picture's first slice, or
    /// a parameter set / SEI / delimiter after a picture, starts the next one. The codec, when not
    /// given, is H.265 if the stream has an H.265 VPS/SPS, else H.264.
    public static func make(annexB: ByteBuffer, codec: CodecID?) throws -> JT1078SendMedia {
        let nals = AnnexB.split(annexB)
        let codec = codec ?? (nals.contains { nal in
            guard let b = nal.getBytes(at: nal.readerIndex, length: min(2, nal.readableBytes)), b.count == 2 else { return false }
            return (b[0] == 0x40 || b[0] == 0x42) && b[1] == 0x01
        } ? .h265 : .h264)
        var frames: [VideoFrame] = []
        var current = ByteBuffer()
        var hasPicture = false
        var isKey = false
        func finish() {
            if hasPicture { frames.append(VideoFrame(annexB: current, isKey: isKey)) }
            current = ByteBuffer()
            hasPicture = false
            isKey = false
        }
        for nal in nals {
            guard let h = nal.getBytes(at: nal.readerIndex, length: min(3, nal.readableBytes)), !h.isEmpty else { continue }
            var vcl = false
            var first = false
            var key = false
            var begins = false
            var skip = false
            if codec == .h264 {
                let type = h[0] & 0x1F
                switch type {
                case 1...5:
                    vcl = true
                    key = type == 5
                    first = h.count > 1 && h[1] & 0x80 != 0  // first_mb_in_slice == 0
                case 6, 7, 8, 13...18: begins = true
                case 9: begins = true; skip = true  // access unit delimiter: not sent
                case 12: skip = true
                default: break
                }
            } else {
                let type = h[0] >> 1 & 0x3F
                switch type {
                case 0...31:
                    vcl = true
                    key = (16...23).contains(type)
                    first = h.count > 2 && h[2] & 0x80 != 0  // first_slice_segment_in_pic_flag
                case 32...34, 39, 41...44, 48...55: begins = true
                case 35: begins = true; skip = true
                case 38: skip = true
                default: break
                }
            }
            if hasPicture && (begins || (vcl && first)) { finish() }
            if skip { continue }
            current.writeInteger(UInt32(1))
            current.writeImmutableBuffer(nal)
            if vcl {
                hasPicture = true
                isKey = isKey || key
            }
        }
        finish()
        guard !frames.isEmpty else { throw LoadError(description: "no H.264/H.265 access units found") }
        return JT1078SendMedia(videoCodec: codec, videoFrames: frames, audioCodec: nil, audioFrames: [], audioFrameSeconds: 1)
    }

    /// Adds audio: raw G.711 cut into `frameMs` chunks, or AAC ADTS frames.
    public mutating func addAudio(_ data: ByteBuffer, codec: CodecID, frameMs: Int = 40) throws {
        let audio = try AudioFileFrames(data, codec: codec, g711FrameMs: frameMs)
        guard codec != .aac || !audio.frames.isEmpty else { throw LoadError(description: "no ADTS frames in the audio") }
        audioCodec = codec
        audioFrames = audio.frames
        audioFrameSeconds = audio.frameSeconds
        audioPayloadType = nil
    }

    /// Audio terminals send and the relay transcodes to G.711 A-law.
    public enum TerminalAudio: Sendable, Equatable {
        /// Raw G.726 code words at 16000…40000 b/s, sent as they are in the file (ffmpeg
        /// `-f g726le` writes the packing terminals use).
        case g726(bitRate: Int)
        /// The blocks of an IMA ADPCM WAV file (ffmpeg `-c:a adpcm_ima_wav`), one per frame.
        case adpcm

        /// g726 (32 kb/s), g726-16/-24/-32/-40 (also g726le…), adpcm / ima / wav; nil for other
        /// names; throws for a G.726 name with an unknown rate.
        public init?(name: String) throws {
            let n = name.lowercased()
            if ["adpcm", "adpcma", "ima", "adpcm_ima_wav", "wav"].contains(n) {
                self = .adpcm
                return
            }
            guard n.hasPrefix("g726") else { return nil }
            let rate = n.drop { $0 != "-" && $0 != "_" }.dropFirst()
            guard rate.isEmpty || G726Decoder.bitsPerSample(bitRate: (Int(rate) ?? 0) * 1000) != nil else {
                throw LoadError(description: "G.726 rate must be 16, 24, 32 or 40 (g726-32)")
            }
            self = .g726(bitRate: rate.isEmpty ? 32000 : (Int(rate) ?? 32) * 1000)
        }
    }

    /// Adds G.726 cut into `frameMs` chunks, or the blocks of an IMA ADPCM WAV file.
    public mutating func addTerminalAudio(_ data: ByteBuffer, _ kind: TerminalAudio, frameMs: Int = 40) throws {
        switch kind {
        case .g726(let bitRate):
            let size = bitRate / 8000 * frameMs  // bits a sample = bytes a millisecond
            var rest = data
            var frames: [ByteBuffer] = []
            while size > 0, let frame = rest.readSlice(length: size) { frames.append(frame) }
            guard !frames.isEmpty else { throw LoadError(description: "the G.726 file is shorter than one frame") }
            audioFrames = frames
            audioFrameSeconds = Double(frameMs) / 1000
            audioPayloadType = JT1078PayloadType.g726
        case .adpcm:
            let wav: WAVFile
            do {
                wav = try WAVFile(parsing: data)
            } catch {
                throw LoadError(description: "IMA ADPCM audio: \(error)")
            }
            guard wav.formatTag == 0x11, wav.channels == 1, wav.sampleRate == 8000, wav.blockAlign > 4 else {
                throw LoadError(description: "IMA ADPCM audio must be an 8 kHz mono adpcm_ima_wav file")
            }
            audioFrames = wav.blocks
            audioFrameSeconds = Double(IMAADPCMDecoder.sampleCount(bytes: wav.blockAlign, order: .lowFirst)) / 8000
            audioPayloadType = JT1078PayloadType.adpcm
        }
        audioCodec = .g711a  // what the relay makes of it
    }
}

/// How `JT1078Sender` behaves: layout, identity, pacing and terminal quirks to imitate.
public struct JT1078SendOptions: Sendable {
    public var version: JT1078Version
    public var sim: String
    /// Each channel gets the same media, all on one connection.
    public var channels: [UInt8]
    public var fps: Double
    public var loop: Bool
    /// Seconds of media to send (nil: the file once, or for ever with `loop`).
    public var duration: Double?
    public var marks: JT1078Packetizer.Marks
    /// Put the HiSilicon `00 01 xx 00` header before every audio frame.
    public var hisiliconAudio: Bool
    public var maxBody: Int
    /// The first timestamp (ms).
    public var timestampStart: UInt64

    public init(version: JT1078Version = .v2016, sim: String = "13912345678", channels: [UInt8] = [1], fps: Double = 25,
                loop: Bool = false, duration: Double? = nil, marks: JT1078Packetizer.Marks = .correct,
                hisiliconAudio: Bool = false, maxBody: Int = JT1078Header.maxBodyBytes, timestampStart: UInt64 = 0) {
        self.version = version
        self.sim = sim
        self.channels = channels
        self.fps = fps
        self.loop = loop
        self.duration = duration
        self.marks = marks
        self.hisiliconAudio = hisiliconAudio
        self.maxBody = maxBody
        self.timestampStart = timestampStart
    }
}

public struct JT1078SendStats: Sendable {
    public var videoFrames = 0
    public var audioFrames = 0
    public var packages = 0
    public var bytes = 0
    public var seconds = 0.0

    public var json: String {
        "{\"video_frames\":\(videoFrames),\"audio_frames\":\(audioFrames),\"packages\":\(packages),\"bytes\":\(bytes),"
            + "\"seconds\":\(String(format: "%.2f", seconds))}"
    }
}

/// The frames of a send, in time order, as packages: video at `fps`, audio at its frame
/// duration, interleaved; loops keep timestamps increasing.
public struct JT1078Schedule: Sendable {
    public let media: JT1078SendMedia
    public let options: JT1078SendOptions
    private var packetizers: [JT1078Packetizer]
    private var videoIndex = 0
    private var audioIndex = 0

    public init(media: JT1078SendMedia, options: JT1078SendOptions) throws {
        self.media = media
        self.options = options
        packetizers = try options.channels.map {
            try JT1078Packetizer(version: options.version, sim: options.sim, channel: $0, maxBody: options.maxBody,
                                 marks: options.marks)
        }
    }

    public struct Step: Sendable {
        /// Seconds from the start at which to send.
        public var time: Double
        public var bytes: ByteBuffer
        public var packages: Int
        public var isVideo: Bool
    }

    /// The next frame (for every channel), nil at the end.
    public mutating func next() -> Step? {
        let videoTime = Double(videoIndex) / options.fps
        var audioTime = media.audioFrames.isEmpty ? Double.infinity : Double(audioIndex) * media.audioFrameSeconds
        if !options.loop && audioIndex >= media.audioFrames.count { audioTime = .infinity }
        let isVideo = videoTime <= audioTime
        if isVideo && !options.loop && videoIndex >= media.videoFrames.count { return nil }
        let time = isVideo ? videoTime : audioTime
        if let duration = options.duration, time >= duration { return nil }
        let timestamp = options.timestampStart + UInt64((time * 1000).rounded())
        var out = ByteBuffer()
        var packages = 0
        if isVideo {
            let frame = media.videoFrames[videoIndex % media.videoFrames.count]
            videoIndex += 1
            let pt = media.videoCodec == .h265 ? JT1078PayloadType.h265 : JT1078PayloadType.h264
            for i in packetizers.indices {
                packages += packetizers[i].packetize(frame.annexB, payloadType: pt, dataType: frame.isKey ? .iFrame : .pFrame,
                                                     timestamp: timestamp, into: &out)
            }
        } else {
            var frame = media.audioFrames[audioIndex % media.audioFrames.count]
            audioIndex += 1
            if options.hisiliconAudio {
                var withHeader = ByteBuffer(bytes: HiSiliconAudioHeader.make(length: frame.readableBytes))
                withHeader.writeBuffer(&frame)
                frame = withHeader
            }
            let pt: UInt8
            if let transcoded = media.audioPayloadType {
                pt = transcoded
            } else {
                switch media.audioCodec {
                case .g711u?: pt = JT1078PayloadType.g711u
                case .aac?: pt = JT1078PayloadType.aac
                default: pt = JT1078PayloadType.g711a
                }
            }
            for i in packetizers.indices {
                packages += packetizers[i].packetize(frame, payloadType: pt, dataType: .audio, timestamp: timestamp, into: &out)
            }
        }
        return Step(time: time, bytes: out, packages: packages, isVideo: isVideo)
    }
}

/// A terminal: connects over TCP and sends a schedule in real time.
public enum JT1078Sender {
    /// Sends until the schedule ends, `shouldStop` answers true, the task is cancelled, or the
    /// server hangs up (which throws).
    public static func run(media: JT1078SendMedia, options: JT1078SendOptions, host: String, port: Int,
                           group: any EventLoopGroup, shouldStop: @escaping @Sendable () -> Bool = { false }) async throws -> JT1078SendStats {
        var schedule = try JT1078Schedule(media: media, options: options)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Discard()) } }
            .connect(host: host, port: port).get()
        var stats = JT1078SendStats()
        let clock = ContinuousClock()
        let start = clock.now
        do {
            while !shouldStop() && !Task.isCancelled, let step = schedule.next() {
                try await clock.sleep(until: start + .nanoseconds(Int64(step.time * 1e9)))
                try await channel.writeAndFlush(step.bytes)
                if step.isVideo { stats.videoFrames += 1 } else { stats.audioFrames += 1 }
                stats.packages += step.packages
                stats.bytes += step.bytes.readableBytes
            }
        } catch is CancellationError {
            // Stopped: not a failure.
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
        let elapsed = clock.now - start
        stats.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return stats
    }

    private final class Discard: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}
