import Foundation

/// A media playlist as tests read it, and the RFC 8216 / rfc8216bis (LL-HLS) rules they check
/// on it: `mediastreamvalidator` is not available, so the rules the relay relies on are
/// asserted here, on our own parse.
public struct HLSMediaPlaylist: Sendable {
    public struct Part: Sendable, Equatable {
        public var duration: Double
        public var uri: String
        public var independent: Bool
    }

    public struct Segment: Sendable {
        public var msn: Int
        public var duration: Double
        public var uri: String
        public var discontinuity: Bool
        public var map: String?
        public var parts: [Part]
    }

    public var version: Int?
    public var targetDuration: Int?
    public var mediaSequence = 0
    public var discontinuitySequence = 0
    public var canBlockReload = false
    public var partHoldBack: Double?
    public var partTarget: Double?
    public var segments: [Segment] = []
    /// Parts of the segment in progress (after the last EXTINF).
    public var openParts: [Part] = []
    public var preloadHint: String?
    public var endList = false
    /// Lines that are neither tags nor URIs where a URI was expected, and malformed tags.
    public var errors: [String] = []

    /// The next media sequence number (of the segment in progress).
    public var nextMSN: Int { mediaSequence + segments.count }

    public init(_ text: String) {
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        if lines.first != "#EXTM3U" { errors.append("first line is not #EXTM3U") }
        var pendingDuration: Double?
        var pendingDiscontinuity = false
        var pendingParts: [Part] = []
        var map: String?
        for line in lines.dropFirst() {
            if let v = Self.value(line, "#EXT-X-VERSION:") { version = Int(v) }
            else if let v = Self.value(line, "#EXT-X-TARGETDURATION:") { targetDuration = Int(v) }
            else if let v = Self.value(line, "#EXT-X-MEDIA-SEQUENCE:") { mediaSequence = Int(v) ?? -1 }
            else if let v = Self.value(line, "#EXT-X-DISCONTINUITY-SEQUENCE:") { discontinuitySequence = Int(v) ?? -1 }
            else if let v = Self.value(line, "#EXT-X-SERVER-CONTROL:") {
                let a = Self.attributes(v)
                canBlockReload = a["CAN-BLOCK-RELOAD"] == "YES"
                partHoldBack = a["PART-HOLD-BACK"].flatMap(Double.init)
            } else if let v = Self.value(line, "#EXT-X-PART-INF:") {
                partTarget = Self.attributes(v)["PART-TARGET"].flatMap(Double.init)
            } else if let v = Self.value(line, "#EXT-X-MAP:") {
                map = Self.attributes(v)["URI"]
            } else if line == "#EXT-X-DISCONTINUITY" {
                pendingDiscontinuity = true
            } else if let v = Self.value(line, "#EXT-X-PART:") {
                let a = Self.attributes(v)
                guard let d = a["DURATION"].flatMap(Double.init), let uri = a["URI"] else {
                    errors.append("bad part: \(line)")
                    continue
                }
                pendingParts.append(Part(duration: d, uri: uri, independent: a["INDEPENDENT"] == "YES"))
            } else if let v = Self.value(line, "#EXT-X-PRELOAD-HINT:") {
                if preloadHint != nil { errors.append("two preload hints") }
                let a = Self.attributes(v)
                if a["TYPE"] != "PART" { errors.append("preload hint not TYPE=PART") }
                preloadHint = a["URI"]
            } else if let v = Self.value(line, "#EXTINF:") {
                pendingDuration = Double(v.prefix { $0 != "," })
                if pendingDuration == nil { errors.append("bad EXTINF: \(line)") }
            } else if line == "#EXT-X-ENDLIST" {
                endList = true
            } else if line.hasPrefix("#") {
                continue  // other tags (PROGRAM-DATE-TIME …)
            } else if let d = pendingDuration {
                segments.append(Segment(msn: mediaSequence + segments.count, duration: d, uri: line,
                                        discontinuity: pendingDiscontinuity, map: map, parts: pendingParts))
                pendingDuration = nil
                pendingDiscontinuity = false
                pendingParts = []
            } else {
                errors.append("URI without EXTINF: \(line)")
            }
        }
        openParts = pendingParts
    }

    /// Every rule this playlist breaks on its own (empty: none).
    public var violations: [String] {
        var v = errors
        guard let target = targetDuration else { return v + ["no EXT-X-TARGETDURATION"] }
        for s in segments where (s.duration - 0.0005).rounded(.up) > Double(target) {
            v.append("segment \(s.msn) EXTINF \(s.duration) above target duration \(target)")
        }
        let hasParts = !openParts.isEmpty || segments.contains { !$0.parts.isEmpty }
        if segments.contains(where: { $0.map != nil }) && (version ?? 1) < 6 { v.append("EXT-X-MAP needs version 6") }
        if segments.contains(where: { $0.duration != $0.duration.rounded() }) && (version ?? 1) < 3 {
            v.append("decimal EXTINF needs version 3")
        }
        if hasParts || preloadHint != nil {
            guard let partTarget else { return v + ["parts without EXT-X-PART-INF"] }
            if !canBlockReload { v.append("LL-HLS without CAN-BLOCK-RELOAD") }
            if let hold = partHoldBack, hold < 3 * partTarget - 0.0005 { v.append("PART-HOLD-BACK \(hold) < 3 × PART-TARGET") }
            for s in segments where !s.parts.isEmpty {
                let sum = s.parts.reduce(0) { $0 + $1.duration }
                if abs(sum - s.duration) > 0.0015 * Double(s.parts.count) {
                    v.append("segment \(s.msn): parts sum to \(sum), EXTINF \(s.duration)")
                }
                for (i, p) in s.parts.enumerated() where i < s.parts.count - 1 && p.duration < 0.85 * partTarget - 0.0005 {
                    v.append("segment \(s.msn) part \(i): \(p.duration) under 85% of the part target")
                }
            }
            for p in segments.flatMap(\.parts) + openParts where p.duration > partTarget + 0.0005 {
                v.append("part \(p.uri) lasts \(p.duration) > PART-TARGET \(partTarget)")
            }
            if preloadHint == nil { v.append("LL-HLS playlist without a preload hint") }
        }
        return v
    }

    /// Rules between two reloads of one playlist (`self` is the later one).
    public func violations(after earlier: HLSMediaPlaylist) -> [String] {
        var v: [String] = []
        if mediaSequence < earlier.mediaSequence { v.append("media sequence went back") }
        if let t = targetDuration, let e = earlier.targetDuration, t < e { v.append("target duration decreased") }
        let removed = earlier.segments.filter { $0.msn < mediaSequence }
        let expected = earlier.discontinuitySequence + removed.filter(\.discontinuity).count
        if removed.count == earlier.segments.count, mediaSequence > earlier.nextMSN {
            // Everything rolled over: nothing left to compare.
        } else if discontinuitySequence != expected {
            v.append("discontinuity sequence \(discontinuitySequence), expected \(expected)")
        }
        for s in segments {
            guard let old = earlier.segments.first(where: { $0.msn == s.msn }) else { continue }
            if old.uri != s.uri || abs(old.duration - s.duration) > 0.0005 { v.append("segment \(s.msn) changed") }
        }
        return v
    }

    static func value(_ line: String, _ tag: String) -> Substring? {
        line.hasPrefix(tag) ? line.dropFirst(tag.count) : nil
    }

    /// `A=1,B="x,y"` → ["A": "1", "B": "x,y"].
    public static func attributes(_ s: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var rest = s[...]
        while !rest.isEmpty {
            guard let eq = rest.firstIndex(of: "=") else { break }
            let key = String(rest[..<eq])
            rest = rest[rest.index(after: eq)...]
            var value: Substring
            if rest.first == "\"" {
                let body = rest.dropFirst()
                let close = body.firstIndex(of: "\"") ?? body.endIndex
                value = body[..<close]
                rest = close < body.endIndex ? body[body.index(after: close)...] : body[body.endIndex...]
            } else {
                let comma = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<comma]
                rest = rest[comma...]
            }
            if rest.first == "," { rest = rest.dropFirst() }
            result[key] = String(value)
        }
        return result
    }
}
