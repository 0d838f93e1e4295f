import NIOCore

/// A media playlist rendered once per change of its window, with the places where a session's
/// URI prefix goes: each request only copies the pieces and its prefix into one buffer.
struct HLSPlaylistTemplate: Sendable {
    private let pieces: [ByteBuffer]
    private let length: Int

    init(_ w: HLSSegmentWindow) {
        let text = HLSPlaylist.media(w, uriPrefix: Self.marker)
        pieces = text.split(separator: "\u{1}", omittingEmptySubsequences: false).map { ByteBuffer(substring: $0) }
        length = pieces.reduce(0) { $0 &+ $1.readableBytes }
    }

    /// Where the prefix goes (a control character: never in playlist text).
    private static let marker = "\u{1}"

    func render(uriPrefix: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: length &+ max(pieces.count &- 1, 0) &* uriPrefix.utf8.count)
        for (i, piece) in pieces.enumerated() {
            if i > 0 { buffer.writeString(uriPrefix) }
            buffer.writeImmutableBuffer(piece)
        }
        return buffer
    }
}

/// Playlist text (RFC 8216, and rfc8216bis for LL-HLS) from a segment window.
enum HLSPlaylist {
    /// EXT-X-VERSION: 3 for TS (decimal EXTINF), 6 for fMP4 (EXT-X-MAP), 9 for LL-HLS.
    static func version(_ config: HLSWindowConfig) -> Int {
        config.lowLatency ? 9 : config.format == .fmp4 ? 6 : 3
    }

    /// Completed segments whose parts are still listed (the newest ones; older parts go, as
    /// rfc8216bis asks once they are a few target durations from the end).
    static let segmentsWithParts = 2

    /// A session's media playlist; URIs are relative to it (`x.hls/SESSION/N.ts`).
    static func media(_ w: HLSSegmentWindow, uriPrefix: some StringProtocol) -> String {
        let config = w.config
        var text = "#EXTM3U\n#EXT-X-VERSION:\(version(config))\n#EXT-X-TARGETDURATION:\(w.targetDurationS)\n"
        if config.lowLatency {
            text += "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=\(seconds(w.partTargetMs &* 3))\n"
            text += "#EXT-X-PART-INF:PART-TARGET=\(seconds(w.partTargetMs))\n"
        }
        text += "#EXT-X-MEDIA-SEQUENCE:\(w.mediaSequence)\n#EXT-X-DISCONTINUITY-SEQUENCE:\(w.discontinuitySequence)\n"
        let listed = w.listed
        var map: Int?
        func mapLine(_ initID: Int) {
            guard config.format == .fmp4, map != initID else { return }
            map = initID
            text += "#EXT-X-MAP:URI=\"\(uriPrefix)\(initName(initID))\"\n"
        }
        let partsFrom = listed.count &- segmentsWithParts
        for (i, segment) in listed.enumerated() {
            if segment.discontinuity { text += "#EXT-X-DISCONTINUITY\n" }
            mapLine(segment.initID)
            text += "#EXT-X-PROGRAM-DATE-TIME:\(segment.programDateTime)\n"
            if config.lowLatency && i >= partsFrom {
                for (p, part) in segment.parts.enumerated() { partLine(&text, part, uriPrefix, segment.msn, p) }
            }
            text += "#EXTINF:\(seconds(segment.durationMs)),\n\(uriPrefix)\(segment.msn).\(config.format.segmentExtension)\n"
        }
        guard config.lowLatency else { return text }
        let open = w.open
        if open.discontinuity { text += "#EXT-X-DISCONTINUITY\n" }
        mapLine(open.initID)
        for (p, part) in open.parts.enumerated() { partLine(&text, part, uriPrefix, open.msn, p) }
        text += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"\(uriPrefix)\(open.msn).\(open.parts.count).m4s\"\n"
        return text
    }

    private static func partLine(_ text: inout String, _ part: HLSPart, _ prefix: some StringProtocol, _ msn: Int, _ index: Int) {
        text += "#EXT-X-PART:DURATION=\(seconds(part.durationMs)),URI=\"\(prefix)\(msn).\(index).m4s\""
        text += part.independent ? ",INDEPENDENT=YES\n" : "\n"
    }

    /// The multivariant playlist a new session gets: one variant, its media playlist.
    static func multivariant(mediaURI: String, bandwidth: Int, codecs: [String], resolution: (Int, Int)?,
                             version: Int) -> String {
        var attributes = "BANDWIDTH=\(max(bandwidth, 1))"
        if !codecs.isEmpty { attributes += ",CODECS=\"\(codecs.joined(separator: ","))\"" }
        if let (w, h) = resolution, w > 0, h > 0 { attributes += ",RESOLUTION=\(w)x\(h)" }
        return "#EXTM3U\n#EXT-X-VERSION:\(version)\n#EXT-X-STREAM-INF:\(attributes)\n\(mediaURI)\n"
    }

    static func initName(_ id: Int) -> String { id == 0 ? "init.mp4" : "init-\(id).mp4" }

    /// Milliseconds as decimal seconds with 3 decimals ("2.000").
    static func seconds(_ ms: Int64) -> String {
        let ms = max(ms, 0)
        let frac = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
    }
}
