import Foundation
import NIOCore
import RelayCore

/// One track of an SDP offer/announce that we can ingest.
public struct RTPIngestTrack: Sendable, Equatable {
    /// AVPacket.streamIndex: 0, 1 in SDP order of the kept tracks.
    public var streamIndex: Int
    public var payloadType: UInt8
    /// .h264, .h265, .aac (mpeg4-generic or MP4A-LATM), .g711a, .g711u.
    public var codec: CodecID
    public var clockRate: Int
    public var channels: Int
    /// a=control (absolute or relative; resolve with `controlURL(base:)`).
    public var control: String?
    /// Configuration known from fmtp (sprop-parameter-sets, sprop-vps/sps/pps, AAC config=);
    /// nil: it comes in-band (H.264/H.265 parameter sets).
    public var stream: AVStream?
    /// The media's fmtp (AAC's AU-header layout is read from it).
    public var parameters: [String: String]

    public init(streamIndex: Int, payloadType: UInt8, codec: CodecID, clockRate: Int, channels: Int, control: String?,
                stream: AVStream?, parameters: [String: String] = [:]) {
        self.streamIndex = streamIndex
        self.payloadType = payloadType
        self.codec = codec
        self.clockRate = clockRate
        self.channels = channels
        self.control = control
        self.stream = stream
        self.parameters = parameters
    }

    /// The URL a SETUP of this track names: `control` if absolute, else resolved against
    /// `base` (Content-Base, Content-Location or the request URL); `*` or none is the base.
    public func controlURL(base: String) -> String {
        guard let control, !control.isEmpty, control != "*" else { return base }
        if control.range(of: "://") != nil { return control }
        if base.hasSuffix("/") || control.hasPrefix("/") { return base + control }
        return base + "/" + control
    }
}

public enum RTPIngestTracks {
    /// The tracks of `sdp` we ingest (first video, first audio), and a line per media we skip.
    public static func from(_ sdp: SessionDescription) -> (tracks: [RTPIngestTrack], unsupported: [String]) {
        var tracks: [RTPIngestTrack] = []
        var unsupported: [String] = []
        var haveVideo = false, haveAudio = false
        for (i, media) in sdp.media.enumerated() {
            let kind = media.kind.lowercased()
            guard kind == "video" || kind == "audio" else {
                unsupported.append("m=\(media.kind.prefix(20)) (section \(i)): not audio or video")
                continue
            }
            if (kind == "video" && haveVideo) || (kind == "audio" && haveAudio) {
                unsupported.append("m=\(kind) (section \(i)): only the first \(kind) track is ingested")
                continue
            }
            guard let track = track(media, kind: kind, index: tracks.count) else {
                let names = media.payloadTypes.map { pt in media.rtpMap(for: pt).map { "\($0.encoding)/\($0.clockRate)" } ?? "\(pt)" }
                unsupported.append("m=\(kind) (section \(i)): no supported payload in \(names.prefix(8).joined(separator: ", "))")
                continue
            }
            if kind == "video" { haveVideo = true } else { haveAudio = true }
            tracks.append(track)
        }
        return (tracks, unsupported)
    }

    /// The first payload type of the m= line that we can depacketize.
    private static func track(_ media: SessionDescription.Media, kind: String, index: Int) -> RTPIngestTrack? {
        for pt in media.payloadTypes {
            guard let map = media.rtpMap(for: pt) else { continue }
            let fmtp = media.formatParameters(for: pt)
            let codec: CodecID
            switch (kind, map.encoding) {
            case ("video", "H264"): codec = .h264
            case ("video", "H265"): codec = .h265
            case ("audio", "MPEG4-GENERIC"):
                // RFC 3640's AAC modes only (not CELP or generic streams).
                guard let mode = fmtp["mode"]?.lowercased(), mode == "aac-hbr" || mode == "aac-lbr" else { continue }
                codec = .aac
            case ("audio", "MP4A-LATM"):
                // RFC 6416 with the configuration in the SDP only.
                guard fmtp["cpresent"] == "0", fmtp["config"] != nil else { continue }
                codec = .aac
            case ("audio", "PCMA") where map.clockRate == 8000: codec = .g711a
            case ("audio", "PCMU") where map.clockRate == 8000: codec = .g711u
            default: continue
            }
            var parameters = fmtp
            if map.encoding == "MP4A-LATM" { parameters["latm"] = "1" }
            var track = RTPIngestTrack(streamIndex: index, payloadType: pt, codec: codec, clockRate: map.clockRate,
                                       channels: map.channels ?? 1, control: media.attribute("control"), stream: nil,
                                       parameters: parameters)
            track.stream = stream(track, parameters)
            if codec == .aac, parameters["latm"] != nil, track.stream == nil { continue }
            return track
        }
        return nil
    }

    /// The configuration the fmtp carries, if it is usable (else it is expected in-band).
    static func stream(_ track: RTPIngestTrack, _ fmtp: [String: String]) -> AVStream? {
        let index = track.streamIndex, rate = track.clockRate
        switch track.codec {
        case .h264:
            let sets = (fmtp["sprop-parameter-sets"] ?? "").split(separator: ",").compactMap(base64)
            let sps = sets.filter { ($0.getInteger(at: $0.readerIndex, as: UInt8.self) ?? 0) & 0x1F == 7 }
            let pps = sets.filter { ($0.getInteger(at: $0.readerIndex, as: UInt8.self) ?? 0) & 0x1F == 8 }
            return try? AVStream.h264(index: index, timebase: rate, sps: sps, pps: pps)
        case .h265:
            func sets(_ key: String) -> [ByteBuffer] { (fmtp[key] ?? "").split(separator: ",").compactMap(base64) }
            return try? AVStream.h265(index: index, timebase: rate, vps: sets("sprop-vps"), sps: sets("sprop-sps"),
                                      pps: sets("sprop-pps"))
        case .aac where fmtp["latm"] != nil:
            // A LATM track is usable only with the configuration its StreamMuxConfig carries.
            guard let config = fmtp["config"].flatMap(hex).flatMap(LATMDepacketizer.audioSpecificConfig(streamMuxConfig:))
            else { return nil }
            return try? AVStream.aac(index: index, timebase: rate, asc: config)
        case .aac:
            if let config = fmtp["config"].flatMap(hex), let stream = try? AVStream.aac(index: index, timebase: rate, asc: config) {
                return stream
            }
            return try? AVStream.aac(index: index, timebase: rate, sampleRate: rate, channels: track.channels)
        case .g711a, .g711u:
            return AVStream.g711(track.codec, index: index, timebase: rate)
        default:
            return nil
        }
    }

    /// Parameter sets in SDP are at most a few hundred bytes; anything past 4 KiB is refused.
    static func base64(_ text: Substring) -> ByteBuffer? {
        guard !text.isEmpty, text.utf8.count <= 4096, let data = Data(base64Encoded: String(text)), !data.isEmpty else { return nil }
        return ByteBuffer(bytes: data)
    }

    static func hex(_ text: String) -> ByteBuffer? {
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0, digits.count <= 512 else { return nil }
        var out = ByteBuffer()
        var i = 0
        while i < digits.count {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.writeInteger(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
