extension SessionDescription.Media {
    /// One `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`, or RFC 3551's static PCMU (0) /
    /// PCMA (8) when the SDP maps none. The encoding is upper-cased.
    public struct RTPMap: Sendable, Equatable {
        public var encoding: String
        public var clockRate: Int
        public var channels: Int?
    }

    /// The payload types of the m= line that are numbers below 128, in order.
    public var payloadTypes: [UInt8] {
        formats.compactMap { UInt8($0).flatMap { $0 < 128 ? $0 : nil } }
    }

    public func rtpMap(for payloadType: UInt8) -> RTPMap? {
        for value in attributes("rtpmap") {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, UInt8(parts[0]) == payloadType else { continue }
            let fields = parts[1].split(separator: "/", omittingEmptySubsequences: false)
            guard fields.count >= 2, !fields[0].isEmpty, let rate = Int(fields[1]), rate > 0, rate <= 1_000_000 else { return nil }
            let channels = fields.count > 2 ? Int(fields[2]).flatMap { (1...8).contains($0) ? $0 : nil } : nil
            return RTPMap(encoding: fields[0].uppercased(), clockRate: rate, channels: channels)
        }
        switch payloadType {
        case 0: return RTPMap(encoding: "PCMU", clockRate: 8000, channels: 1)
        case 8: return RTPMap(encoding: "PCMA", clockRate: 8000, channels: 1)
        default: return nil
        }
    }

    /// `a=fmtp:<pt> a=1; b=2` as ["a": "1", "b": "2"] (keys lower-cased; entries without '='
    /// left out; the first of a repeated key kept).
    public func formatParameters(for payloadType: UInt8) -> [String: String] {
        for value in attributes("fmtp") {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, UInt8(parts[0]) == payloadType else { continue }
            var result: [String: String] = [:]
            for entry in parts[1].split(separator: ";") {
                guard let equals = entry.firstIndex(of: "=") else { continue }
                let key = entry[..<equals].trimmedSDP.lowercased()
                if result[key] == nil { result[key] = String(entry[entry.index(after: equals)...].trimmedSDP) }
            }
            return result
        }
        return [:]
    }
}

extension Substring {
    fileprivate var trimmedSDP: Substring {
        var trimmed = self
        while trimmed.first == " " || trimmed.first == "\t" { trimmed.removeFirst() }
        while trimmed.last == " " || trimmed.last == "\t" { trimmed.removeLast() }
        return trimmed
    }
}
