import Foundation

/// One Transport header alternative the server accepts (RFC 2326 §12.39): RTP over the RTSP
/// connection (interleaved channels) or unicast UDP to the client's ports.
enum RTSPTransport: Equatable {
    case tcp(rtp: UInt8, rtcp: UInt8)
    case udp(rtpPort: Int, rtcpPort: Int)

    var isTCP: Bool { if case .tcp = self { return true } else { return false } }

    /// The first alternative the server supports, or nil (answered with 461). `defaultChannels`
    /// is used when a TCP alternative names no channels.
    /// `record`: the alternative must be `mode=record` (a publisher's SETUP after ANNOUNCE; no
    /// mode is taken as record too), else `mode=play` or none.
    static func parse(_ header: String, defaultChannels: (UInt8, UInt8), record: Bool = false) -> RTSPTransport? {
        for alternative in header.split(separator: ",") {
            if let t = parseOne(alternative, defaultChannels: defaultChannels, mode: record ? "RECORD" : "PLAY") { return t }
        }
        return nil
    }

    /// Whether the header asks for `mode=record` (a publisher's SETUP).
    static func asksRecord(_ header: String) -> Bool {
        header.lowercased().replacingOccurrences(of: "\"", with: "").contains("mode=record")
    }

    private static func parseOne(_ spec: Substring, defaultChannels: (UInt8, UInt8), mode wanted: String) -> RTSPTransport? {
        let parts = spec.split(separator: ";").map { $0.trimmingSpaces }
        guard let proto = parts.first?.uppercased() else { return nil }
        let tcp: Bool
        switch proto {
        case "RTP/AVP", "RTP/AVP/UDP": tcp = false
        case "RTP/AVP/TCP": tcp = true
        default: return nil
        }
        var channels: (UInt8, UInt8)?
        var ports: (Int, Int)?
        for p in parts.dropFirst() {
            // Not `split`: it drops empty pieces, so "" or "=" would give no key at all.
            let key = (p.firstIndex(of: "=").map { p[..<$0] } ?? p[...]).lowercased()
            let value = p.firstIndex(of: "=").map { p[p.index(after: $0)...] } ?? ""
            switch key {
            case "multicast":
                return nil
            case "mode":
                // PLAY for a player, RECORD for a publisher.
                let mode = value.trimming("\"").uppercased()
                if mode != wanted { return nil }
            case "interleaved":
                guard let (a, b) = range(value, max: 255) else { return nil }
                channels = (UInt8(a), UInt8(b))
            case "client_port":
                guard let (a, b) = range(value, max: 65535), a > 0 else { return nil }
                ports = (a, b)
            default:
                continue
            }
        }
        if tcp {
            let (rtp, rtcp) = channels ?? defaultChannels
            return .tcp(rtp: rtp, rtcp: rtcp)
        }
        guard let (rtp, rtcp) = ports else { return nil }
        return .udp(rtpPort: rtp, rtcpPort: rtcp)
    }

    /// `a-b`, or `a` meaning `a-(a+1)`; both within 0...max and distinct.
    private static func range(_ s: Substring, max: Int) -> (Int, Int)? {
        let ends = s.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count <= 2, let a = Int(ends[0]), (0...max).contains(a) else { return nil }
        if ends.count == 1 { return a < max ? (a, a + 1) : nil }
        guard let b = Int(ends[1]), (0...max).contains(b), b != a else { return nil }
        return (a, b)
    }

    /// The Transport header of the SETUP response.
    func responseHeader(serverPorts: (Int, Int)? = nil, record: Bool = false) -> String {
        var s: String
        switch self {
        case .tcp(let rtp, let rtcp):
            s = "RTP/AVP/TCP;unicast;interleaved=\(rtp)-\(rtcp)"
        case .udp(let rtp, let rtcp):
            s = "RTP/AVP;unicast;client_port=\(rtp)-\(rtcp)"
            if let (a, b) = serverPorts { s += ";server_port=\(a)-\(b)" }
        }
        return record ? s + ";mode=record" : s
    }
}

extension StringProtocol {
    func trimming(_ set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
