import NIOCore
import RelayCore

/// How terminal ADPCM is read (`jt1078.g726_packing`, `g726_bitrate`, `adpcm_nibbles`).
public struct JT1078AudioSettings: Sendable, Equatable {
    public var g726Packing: G726Decoder.Packing
    /// 16000/24000/32000/40000; nil: inferred from frame size and timestamp interval.
    public var g726BitRate: Int?
    /// nil: detected from consecutive block headers.
    public var adpcmNibbles: IMAADPCMDecoder.NibbleOrder?

    public init(g726Packing: G726Decoder.Packing = .le, g726BitRate: Int? = nil,
                adpcmNibbles: IMAADPCMDecoder.NibbleOrder? = nil) {
        self.g726Packing = g726Packing
        self.g726BitRate = g726BitRate
        self.adpcmNibbles = adpcmNibbles
    }
}

/// One stream's G.726 and IMA ADPCM frames → G.711 A-law frames (timestamps unchanged), because
/// FLV and RTSP players cannot take ADPCM but all of them play PCMA. Samples go straight from the
/// decoder into the output buffer, the one allocation per frame.
///
/// Neither codec says enough about itself: G.726's bit rate is inferred from the first two
/// frames (bytes per frame over the terminal's timestamp interval: 2 bytes/ms = 16 kb/s …
/// 5 bytes/ms = 40 kb/s), holding the first frame meanwhile; IMA ADPCM's nibble order from
/// which order's decoded signal the next block's header continues (the signal runs on across
/// blocks; the wrong order drifts away within a block).
struct JT1078AudioTranscoder: Sendable {
    /// A terminal audio frame is well under 1 s (G.726-40: 5,000 bytes a second); larger ones
    /// are dropped instead of costing megabytes of output.
    static let maxFrameBytes = 8 << 10
    /// Frames after which an undecided stream says so (G.726: and its frames stay dropped; IMA
    /// ADPCM: decoded as WAV meanwhile, the detection goes on).
    static let maxProbeFrames = 50
    /// Votes one nibble order needs ahead of the other to be taken.
    static let orderLead = 3
    /// Sample distance by which one order must continue the next header better to get a vote.
    static let minMargin = 16

    enum Output: Equatable {
        case frame(ByteBuffer, time: Int64)
        case notice(String, key: String)
        case dropped
    }

    let settings: JT1078AudioSettings
    private var g726: G726Decoder?
    private var pending: (body: ByteBuffer, terminalTime: UInt64, time: Int64)?
    private var g726Probes = 0
    private var order: IMAADPCMDecoder.NibbleOrder?
    private var lastEnds: (low: Tail, high: Tail)?
    private var orderScore = 0
    private var adpcmProbes = 0
    private var adpcmAnnounced = false

    init(settings: JT1078AudioSettings) {
        self.settings = settings
        order = settings.adpcmNibbles
    }

    static func isTranscoded(_ payloadType: UInt8) -> Bool {
        payloadType == JT1078PayloadType.g726 || payloadType == JT1078PayloadType.adpcm
    }

    mutating func transcode(_ body: ByteBuffer, payloadType: UInt8, terminalTime: UInt64, time: Int64,
                            allocator: ByteBufferAllocator, into out: inout [Output]) {
        guard body.readableBytes <= Self.maxFrameBytes else {
            out.append(.dropped)
            out.append(.notice("\(JT1078PayloadType.name(payloadType)) frames over \(Self.maxFrameBytes) bytes are dropped",
                               key: "adpcmsize"))
            return
        }
        if payloadType == JT1078PayloadType.g726 {
            g726(body, terminalTime: terminalTime, time: time, allocator: allocator, into: &out)
        } else {
            adpcm(body, time: time, allocator: allocator, into: &out)
        }
    }

    // MARK: G.726

    private mutating func g726(_ body: ByteBuffer, terminalTime: UInt64, time: Int64, allocator: ByteBufferAllocator,
                               into out: inout [Output]) {
        if g726 == nil {
            let packing = settings.g726Packing.rawValue
            if let rate = settings.g726BitRate, let bits = G726Decoder.bitsPerSample(bitRate: rate) {
                g726 = G726Decoder(bitsPerSample: bits, packing: settings.g726Packing)
                out.append(.notice("G.726-\(bits * 8) audio is transcoded to G.711 A-law (bit rate from "
                                   + "jt1078.g726_bitrate, \(packing) packing)", key: "g726"))
            } else if let first = pending, terminalTime > first.terminalTime,
                      let bits = Self.inferBits(bytes: first.body.readableBytes, intervalMs: terminalTime - first.terminalTime) {
                g726 = G726Decoder(bitsPerSample: bits, packing: settings.g726Packing)
                out.append(.notice("G.726-\(bits * 8) audio is transcoded to G.711 A-law (bit rate inferred from "
                                   + "\(first.body.readableBytes)-byte frames every \(terminalTime - first.terminalTime) ms, "
                                   + "\(packing) packing)", key: "g726"))
                pending = nil
                emitG726(first.body, time: first.time, allocator: allocator, into: &out)
            } else {
                if pending != nil { out.append(.dropped) }
                pending = (ByteBuffer(buffer: body), terminalTime, time)
                g726Probes += 1
                if g726Probes == Self.maxProbeFrames {
                    out.append(.notice("the G.726 bit rate cannot be inferred (\(body.readableBytes)-byte frames, timestamps "
                                       + "not 2…5 bytes per ms apart): frames are dropped; set jt1078.g726_bitrate",
                                       key: "g726rate"))
                }
                return
            }
        }
        emitG726(body, time: time, allocator: allocator, into: &out)
    }

    private mutating func emitG726(_ body: ByteBuffer, time: Int64, allocator: ByteBufferAllocator, into out: inout [Output]) {
        guard g726 != nil else { return }
        var payload = allocator.buffer(capacity: g726?.sampleCount(bytes: body.readableBytes) ?? 0)
        g726?.decode(body) { payload.writeInteger(G711.alaw($0)) }
        out.append(payload.readableBytes > 0 ? .frame(payload, time: time) : .dropped)
    }

    /// Bits a sample whose rate (bytes per ms of 8 kHz audio) is within 10 % of `bytes` over
    /// `intervalMs`; nil when none is.
    static func inferBits(bytes: Int, intervalMs: UInt64) -> Int? {
        guard (1...1000).contains(intervalMs) else { return nil }
        let ms = Int(intervalMs)
        return (2...5).first { bits in abs(bytes - bits * ms) * 10 <= bits * ms }
    }

    // MARK: IMA ADPCM

    private mutating func adpcm(_ body: ByteBuffer, time: Int64, allocator: ByteBufferAllocator, into out: inout [Output]) {
        guard let header = IMAADPCMDecoder.State(header: body), body.readableBytes > IMAADPCMDecoder.headerBytes else {
            out.append(.dropped)
            out.append(.notice("IMA ADPCM frames without samples after the 4-byte block header are dropped", key: "adpcmshort"))
            return
        }
        if order == nil {
            probeOrder(header: header, into: &out)
        } else if !adpcmAnnounced, let configured = settings.adpcmNibbles {
            adpcmAnnounced = true
            out.append(.notice("IMA ADPCM audio is transcoded to G.711 A-law (\(Self.layout(configured)), from jt1078.adpcm_nibbles)",
                               key: "adpcm"))
        }
        let decodeOrder = order ?? .lowFirst
        var payload = allocator.buffer(capacity: IMAADPCMDecoder.sampleCount(bytes: body.readableBytes, order: decodeOrder))
        if order == nil {
            var tails = (low: Tail(), high: Tail())
            IMAADPCMDecoder.decode(block: body, order: .lowFirst) { sample in
                payload.writeInteger(G711.alaw(sample))
                tails.low.push(sample)
            }
            IMAADPCMDecoder.decode(block: body, order: .highFirst) { tails.high.push($0) }
            lastEnds = tails
        } else {
            IMAADPCMDecoder.decode(block: body, order: decodeOrder) { payload.writeInteger(G711.alaw($0)) }
        }
        out.append(.frame(payload, time: time))
    }

    /// The last two samples of a block: where the signal was heading when it ended.
    struct Tail: Sendable {
        var previous = 0
        var last = 0

        mutating func push(_ sample: Int16) {
            previous = last
            last = Int(sample)
        }

        /// How far a header's sample is from continuing this block: from its last sample (DVI
        /// encoders hand over their state) or one step on (WAV encoders put the next input
        /// sample in the header).
        func distance(to header: IMAADPCMDecoder.State) -> Int {
            min(abs(header.predictor - last), abs(header.predictor - (2 * last - previous)))
        }
    }

    /// Scores which order's signal the new header continues; one order has to be clearly
    /// closer (half the distance) `orderLead` more times than the other to be taken.
    private mutating func probeOrder(header: IMAADPCMDecoder.State, into out: inout [Output]) {
        adpcmProbes += 1
        if let ends = lastEnds {
            let low = ends.low.distance(to: header)
            let high = ends.high.distance(to: header)
            // A vote needs a clear margin: in near-silence both orders stay close to the header.
            if 2 * low < high && high - low > Self.minMargin { orderScore += 1 }
            if 2 * high < low && low - high > Self.minMargin { orderScore -= 1 }
        }
        let decided: IMAADPCMDecoder.NibbleOrder?
        if orderScore >= Self.orderLead {
            decided = .lowFirst
        } else if orderScore <= -Self.orderLead {
            decided = .highFirst
        } else {
            decided = nil
        }
        guard let decided else {
            // Silence tells nothing: keep looking (decoding as WAV meanwhile) rather than guess for good.
            if adpcmProbes == Self.maxProbeFrames {
                out.append(.notice("IMA ADPCM nibble order not detected yet: decoded as WAV layout (low nibble first) "
                                   + "until it is; jt1078.adpcm_nibbles pins it", key: "adpcmprobe"))
            }
            return
        }
        order = decided
        lastEnds = nil
        adpcmAnnounced = true
        out.append(.notice("IMA ADPCM audio is transcoded to G.711 A-law (\(Self.layout(decided)), detected)", key: "adpcm"))
    }

    private static func layout(_ order: IMAADPCMDecoder.NibbleOrder) -> String {
        order == .lowFirst ? "low nibble first, WAV layout" : "high nibble first, DVI layout"
    }
}
