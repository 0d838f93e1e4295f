/// The parts of a SETUP answer a pull needs: the session (id and timeout, RFC 2326 §12.37) and
/// the transport the camera chose (§12.39: interleaved channels, or its UDP ports).
public struct RTSPSetupReply: Sendable, Equatable {
    public var session: String
    /// Seconds; 60 when the camera names none.
    public var timeout: Int
    public var interleaved: (rtp: UInt8, rtcp: UInt8)?
    public var serverPorts: (rtp: Int, rtcp: Int)?
    /// The address the camera sends from, when it names one (`source=`).
    public var source: String?

    public static func == (a: Self, b: Self) -> Bool {
        a.session == b.session && a.timeout == b.timeout && a.interleaved?.rtp == b.interleaved?.rtp
            && a.interleaved?.rtcp == b.interleaved?.rtcp && a.serverPorts?.rtp == b.serverPorts?.rtp
            && a.serverPorts?.rtcp == b.serverPorts?.rtcp && a.source == b.source
    }

    /// nil without a Session header (or with an empty id).
    public init?(session sessionHeader: String?, transport: String?) {
        guard let sessionHeader else { return nil }
        let parts = sessionHeader.split(separator: ";", omittingEmptySubsequences: false)
        guard let id = parts.first?.trimmingSpaces, !id.isEmpty, id.utf8.count <= 256,
              id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        session = id
        timeout = 60
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
            if kv.count == 2, kv[0].lowercased() == "timeout", let t = Int(kv[1]), t > 0 { timeout = min(t, 3600) }
        }
        // The first alternative is the chosen one.
        let chosen = transport?.split(separator: ",").first ?? ""
        for p in chosen.split(separator: ";") {
            let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
            guard kv.count == 2 else { continue }
            switch kv[0].lowercased() {
            case "interleaved":
                if let (a, b) = Self.pair(kv[1], max: 255) { interleaved = (UInt8(a), UInt8(b)) }
            case "server_port":
                if let (a, b) = Self.pair(kv[1], max: 65535), a > 0, b > 0 { serverPorts = (a, b) }
            case "source":
                source = kv[1].trimming("\"")
            default:
                continue
            }
        }
    }

    /// `a-b`, or `a` meaning `a-(a+1)`; both within 0...max.
    private static func pair(_ s: String, max: Int) -> (Int, Int)? {
        let ends = s.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count <= 2, let a = Int(ends[0]), (0...max).contains(a) else { return nil }
        if ends.count == 1 { return a < max ? (a, a + 1) : nil }
        guard let b = Int(ends[1]), (0...max).contains(b) else { return nil }
        return (a, b)
    }
}
