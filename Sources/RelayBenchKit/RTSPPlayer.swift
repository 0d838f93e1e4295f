import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore

/// A minimal RTSP player over TCP (RTP interleaved): OPTIONS, DESCRIBE, SETUP per track, PLAY,
/// then every RTP packet checked (version, sequence continuity) and video depacketized far enough
/// to count whole frames and tell key frames, so a broken stream counts as a failure.
public final class RTSPPlayer: BenchPlayer {
    public let connection: PlayerConnection

    /// `url`: rtsp://host:port/app/stream
    public static func connect(url: String, group: any EventLoopGroup, measureLatency: Bool = false, receiveBufferBytes: Int = 0) async throws -> RTSPPlayer {
        guard url.hasPrefix("rtsp://") else { throw RTSPPlayerError("not an rtsp:// URL: \(url)") }
        let rest = url.dropFirst("rtsp://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let hostPort = rest[..<slash]
        var host = String(hostPort)
        var port = 554
        if let colon = hostPort.lastIndex(of: ":"), let p = Int(hostPort[hostPort.index(after: colon)...]) {
            host = String(hostPort[..<colon])
            port = p
        }
        let connection = try await PlayerConnection.open(host: host, port: port, group: group,
                                                         receiveBufferBytes: receiveBufferBytes) { state in
            RTSPPlayHandler(url: url, state: state, measureLatency: measureLatency)
        }
        return RTSPPlayer(connection: connection)
    }

    private init(connection: PlayerConnection) {
        self.connection = connection
    }
}

struct RTSPPlayerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One media section of the DESCRIBE answer.
private struct RTSPTrack {
    var control: String
    var encoding: String  // H264, H265, MPEG4-GENERIC, PCMA …
    var isVideo: Bool
    var lastSequence: UInt16?
}

private final class RTSPPlayHandler: PlayerHandler {

    private let url: String
    let state: NIOLockedValueBox<PlayerStats>
    private let measureLatency: Bool
    private var buffer = ByteBuffer()
    private var cseq = 0
    private var session: String?
    private var baseURL: String
    private var tracks: [RTSPTrack] = []
    private var setupIndex = 0
    private var playSent = false
    private var sawRTP = false
    /// The video frame being received: its RTP timestamp and whether a key NAL unit was seen.
    private var frameTimestamp: UInt32?
    private var frameIsKey = false
    private var frameLatency: Int64?

    init(url: String, state: NIOLockedValueBox<PlayerStats>, measureLatency: Bool) {
        self.url = url
        self.state = state
        self.measureLatency = measureLatency
        self.baseURL = url
    }

    func channelActive(context: ChannelHandlerContext) {
        request("OPTIONS", url, context)
    }

    private func request(_ method: String, _ target: String, _ context: ChannelHandlerContext, headers: [String] = []) {
        cseq += 1
        var lines = ["\(method) \(target) RTSP/1.0", "CSeq: \(cseq)", "User-Agent: relay-bench"]
        if let session { lines.append("Session: \(session)") }
        lines += headers
        var out = context.channel.allocator.buffer(capacity: 256)
        out.writeString(lines.joined(separator: "\r\n") + "\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        state.withLockedValue { $0.bytes += incoming.readableBytes }
        buffer.writeBuffer(&incoming)
        do {
            try parse(context)
        } catch {
            fail(context, "\(error)")
            return
        }
        buffer.discardReadBytes()
    }

    private func parse(_ context: ChannelHandlerContext) throws {
        while let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) {
            if first == UInt8(ascii: "$") {
                guard buffer.readableBytes >= 4,
                      let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self),
                      buffer.readableBytes >= 4 + Int(length) else { return }
                let channelID = Int(buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self)!)
                buffer.moveReaderIndex(forwardBy: 4)
                let packet = buffer.readSlice(length: Int(length))!
                if channelID % 2 == 0 { try rtp(packet, track: channelID / 2) }
                continue
            }
            guard let end = buffer.readableBytesView.firstRange(of: [13, 10, 13, 10]) else {
                if buffer.readableBytes > 16 << 10 { throw RTSPPlayerError("RTSP response head too long") }
                return
            }
            let headLength = end.upperBound - buffer.readableBytesView.startIndex
            let head = buffer.getString(at: buffer.readerIndex, length: headLength) ?? ""
            let lines = head.split(separator: "\r\n").map(String.init)
            var fields: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" }).description
            }
            let bodyLength = Int(fields["content-length"] ?? "0") ?? 0
            guard buffer.readableBytes >= headLength + bodyLength else { return }
            buffer.moveReaderIndex(forwardBy: headLength)
            let body = buffer.readString(length: bodyLength) ?? ""
            let statusLine: [Substring] = lines.first?.split(separator: " ") ?? []
            let status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0
            try response(status: status, fields: fields, body: body, context)
        }
    }

    private func response(status: Int, fields: [String: String], body: String, _ context: ChannelHandlerContext) throws {
        guard status == 200 else {
            state.withLockedValue { $0.status = status }
            throw RTSPPlayerError("RTSP \(status) to request \(cseq)")
        }
        if let s = fields["session"] { session = String(s.split(separator: ";")[0]) }
        let step = cseq == 1 ? "OPTIONS" : cseq == 2 ? "DESCRIBE" : playSent ? "PLAY" : "SETUP"
        state.withLockedValue { $0.milestones.append((step, .now())) }
        switch cseq {
        case 1:
            request("DESCRIBE", url, context, headers: ["Accept: application/sdp"])
        case 2:
            if let base = fields["content-base"] { baseURL = base }
            tracks = Self.tracks(fromSDP: body)
            guard !tracks.isEmpty else { throw RTSPPlayerError("SDP without media") }
            setupNext(context)
        default:
            if setupIndex < tracks.count {
                setupNext(context)
            } else if !playSent {
                playSent = true
                request("PLAY", url, context, headers: ["Range: npt=0.000-"])
            } else {
                state.withLockedValue { $0.status = 200 }
            }
        }
    }

    private func setupNext(_ context: ChannelHandlerContext) {
        let track = tracks[setupIndex]
        let target = track.control.hasPrefix("rtsp://") ? track.control
            : (baseURL.hasSuffix("/") ? baseURL : baseURL + "/") + track.control
        let i = setupIndex
        setupIndex += 1
        request("SETUP", target, context, headers: ["Transport: RTP/AVP/TCP;unicast;interleaved=\(2 * i)-\(2 * i + 1)"])
    }

    static private func tracks(fromSDP sdp: String) -> [RTSPTrack] {
        var result: [RTSPTrack] = []
        for line in sdp.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("m=") {
                result.append(RTSPTrack(control: "", encoding: "", isVideo: line.hasPrefix("m=video"), lastSequence: nil))
            } else if line.hasPrefix("a=control:"), !result.isEmpty {
                result[result.count - 1].control = String(line.dropFirst("a=control:".count))
            } else if line.hasPrefix("a=rtpmap:"), !result.isEmpty, let space = line.firstIndex(of: " ") {
                result[result.count - 1].encoding = String(line[line.index(after: space)...].split(separator: "/")[0]).uppercased()
            }
        }
        return result
    }

    private func rtp(_ packet: ByteBuffer, track index: Int) throws {
        guard index < tracks.count else { throw RTSPPlayerError("RTP on channel \(2 * index) that was not set up") }
        var p = packet
        guard let b0 = p.readInteger(as: UInt8.self), b0 >> 6 == 2,
              let b1 = p.readInteger(as: UInt8.self),
              let sequence = p.readInteger(as: UInt16.self),
              let timestamp = p.readInteger(as: UInt32.self),
              p.readInteger(as: UInt32.self) != nil else { throw RTSPPlayerError("bad RTP header") }
        let csrcCount = Int(b0 & 0x0F)
        guard p.readSlice(length: 4 * csrcCount) != nil else { throw RTSPPlayerError("bad RTP CSRC list") }
        if b0 & 0x10 != 0 {
            guard p.readInteger(as: UInt16.self) != nil, let words = p.readInteger(as: UInt16.self),
                  p.readSlice(length: 4 * Int(words)) != nil else { throw RTSPPlayerError("bad RTP extension") }
        }
        if !sawRTP {
            sawRTP = true
            state.withLockedValue { $0.milestones.append(("first RTP", .now())) }
        }
        if let last = tracks[index].lastSequence, sequence != last &+ 1 {
            throw RTSPPlayerError("RTP sequence gap on track \(index): \(last) → \(sequence)")
        }
        tracks[index].lastSequence = sequence
        guard tracks[index].isVideo else {
            state.withLockedValue { $0.audioFrames += 1 }
            return
        }
        let marker = b1 & 0x80 != 0
        if frameTimestamp != timestamp {
            frameTimestamp = timestamp
            frameIsKey = false
            frameLatency = nil
        }
        inspect(payload: p, h265: tracks[index].encoding == "H265")
        if marker {
            let now = NIODeadline.now()
            let (isKey, latency) = (frameIsKey, frameLatency)
            state.withLockedValue {
                $0.recordVideoFrame(isKey: isKey, at: now, timestamp: nil)
                if let latency { $0.latenciesMicros.append(latency) }
            }
            frameTimestamp = nil
        }
    }

    /// Notes key-frame NAL units (and, when measuring, the capture-stamp SEI) in one RTP payload.
    private func inspect(payload: ByteBuffer, h265: Bool) {
        guard let b0 = payload.getInteger(at: payload.readerIndex, as: UInt8.self) else { return }
        let type: Int
        if h265 {
            let t = Int(b0 >> 1) & 0x3F
            if t == 49, let fu = payload.getInteger(at: payload.readerIndex + 2, as: UInt8.self) {
                type = Int(fu & 0x3F)
            } else {
                type = t
            }
            if (16...21).contains(type) { frameIsKey = true }
            if type == 39 && measureLatency { stamp(payload, codec: .h265) }
        } else {
            let t = Int(b0 & 0x1F)
            if t == 28, let fu = payload.getInteger(at: payload.readerIndex + 1, as: UInt8.self) {
                type = Int(fu & 0x1F)
            } else {
                type = t
            }
            if type == 5 { frameIsKey = true }
            if type == 6 && measureLatency { stamp(payload, codec: .h264) }
        }
    }

    private func stamp(_ nal: ByteBuffer, codec: CodecID) {
        var unit = ByteBuffer()
        unit.writeInteger(UInt32(nal.readableBytes))
        unit.writeImmutableBuffer(nal)
        if let latency = glassToGlassMicros(unit, codec: codec) { frameLatency = latency }
    }
}
