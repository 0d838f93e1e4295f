import Foundation
import NIOCore
import RelayCore
import RelayRTP

/// The session description DESCRIBE answers with (RFC 4566), from the stream's real parameters.
public enum SDP {
    /// `streams` in playable order; tracks without an `RTPFormat` are left out. Each track's
    /// control URL is `trackID=<stream index>`, relative to the Content-Base.
    public static func describe(streams: [AVStream], sessionID: UInt64, address: String, name: String) -> String {
        let ipVersion = address.contains(":") ? "IP6" : "IP4"
        var lines = [
            "v=0",
            "o=- \(sessionID) 1 IN \(ipVersion) \(address)",
            "s=\(name)",
            "c=IN \(ipVersion) \(ipVersion == "IP6" ? "::" : "0.0.0.0")",
            "t=0 0",
            "a=tool:LiveRelay",
            "a=range:npt=0-",
            "a=control:*",
        ]
        for stream in streams {
            guard let format = RTPFormat(stream) else { continue }
            lines += media(stream, format: format)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func media(_ stream: AVStream, format: RTPFormat) -> [String] {
        let pt = format.payloadType
        var lines = ["m=\(stream.kind == .video ? "video" : "audio") 0 RTP/AVP \(pt)", "a=rtpmap:\(format.rtpmap)"]
        if let fmtp = fmtp(stream) { lines.append("a=fmtp:\(pt) \(fmtp)") }
        lines.append("a=control:\(RTSPTarget.trackPrefix)\(stream.index)")
        return lines
    }

    static func fmtp(_ stream: AVStream) -> String? {
        switch stream.codec {
        case .h264:
            var params = ["packetization-mode=1"]
            guard let video = stream.video else { return params[0] }
            if let profile = stream.h264ProfileLevelID { params.append("profile-level-id=" + profile) }
            let sets = (video.sps + video.pps).map(base64)
            if !sets.isEmpty { params.append("sprop-parameter-sets=" + sets.joined(separator: ",")) }
            return params.joined(separator: ";")
        case .h265:
            guard let video = stream.video else { return nil }
            var params: [String] = []
            for (name, nals) in [("sprop-vps", video.vps), ("sprop-sps", video.sps), ("sprop-pps", video.pps)] where !nals.isEmpty {
                params.append("\(name)=" + nals.map(base64).joined(separator: ","))
            }
            return params.isEmpty ? nil : params.joined(separator: ";")
        case .aac:
            // RFC 3640 AAC-hbr: 13-bit AU sizes, 3-bit indexes (what AACPacketizer writes).
            return "streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config="
                + hex(stream.extradata.readableBytesView)
        default:
            return nil
        }
    }

    static func base64(_ nal: ByteBuffer) -> String {
        Data(nal.readableBytesView).base64EncodedString()
    }

    static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
