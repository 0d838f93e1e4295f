/// What an HLS client needs from a playlist (RFC 8216 4.3): the variants of a multivariant
/// playlist; the target duration, media sequence, segment URIs and init section of a media one.
enum HLSPlaylist: Equatable {
    case multivariant(variants: [String])
    case media(HLSMediaPlaylist)

    /// nil when the text is not an M3U8 playlist.
    init?(parsing text: String) {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.first == "#EXTM3U" else { return nil }
        if lines.contains(where: { $0.hasPrefix("#EXT-X-STREAM-INF:") }) {
            var variants: [String] = []
            var expectURI = false
            for line in lines {
                if line.hasPrefix("#EXT-X-STREAM-INF:") {
                    expectURI = true
                } else if expectURI, !line.isEmpty, !line.hasPrefix("#") {
                    variants.append(line)
                    expectURI = false
                }
            }
            self = .multivariant(variants: variants)
            return
        }
        var media = HLSMediaPlaylist()
        var sequence = 0
        for line in lines {
            if let v = Self.value(line, "#EXT-X-TARGETDURATION:") {
                media.targetDuration = Double(v) ?? media.targetDuration
            } else if let v = Self.value(line, "#EXT-X-MEDIA-SEQUENCE:") {
                sequence = Int(v) ?? 0
                media.mediaSequence = sequence
            } else if let v = Self.value(line, "#EXT-X-MAP:") {
                media.initSection = Self.attribute("URI", in: v)
            } else if line == "#EXT-X-ENDLIST" {
                media.ended = true
            } else if !line.isEmpty, !line.hasPrefix("#") {
                media.segments.append(.init(sequence: sequence, uri: line))
                sequence += 1
            }
        }
        self = .media(media)
    }

    private static func value(_ line: String, _ tag: String) -> String? {
        line.hasPrefix(tag) ? String(line.dropFirst(tag.count)) : nil
    }

    /// A quoted or plain attribute of an attribute list (`URI="init.mp4",BYTERANGE=…`).
    static func attribute(_ name: String, in list: String) -> String? {
        guard let range = list.range(of: name + "=") else { return nil }
        let rest = list[range.upperBound...]
        if rest.hasPrefix("\"") {
            return rest.dropFirst().split(separator: "\"", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
        }
        return rest.split(separator: ",", maxSplits: 1).first.map(String.init)
    }

    /// A URI of a playlist at `base` (an absolute path with an optional query) as a path to request:
    /// absolute URLs lose their scheme and authority, relative ones go next to the playlist.
    static func resolve(_ uri: String, against base: String) -> String {
        if let scheme = uri.range(of: "://") {
            let rest = uri[scheme.upperBound...]
            return rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
        }
        if uri.hasPrefix("/") { return uri }
        let path = base.split(separator: "?", maxSplits: 1).first.map(String.init) ?? base
        let directory = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "/"
        return directory + uri
    }
}

struct HLSMediaPlaylist: Equatable {
    struct Segment: Equatable {
        var sequence: Int
        var uri: String
    }

    var targetDuration: Double = 2
    var mediaSequence = 0
    var segments: [Segment] = []
    /// EXT-X-MAP URI (fMP4 segments).
    var initSection: String?
    var ended = false
}
