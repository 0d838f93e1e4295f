import RelayCore

/// The two HLS variants of a stream: MPEG-TS segments, or fMP4 (CMAF) segments with LL-HLS parts.
enum HLSFormat: Sendable, Hashable {
    case ts
    case fmp4

    /// `format=fmp4` / `format=ts` in the playlist URL; anything else: the configured default.
    init(query value: String?, fmp4Default: Bool) {
        switch value?.lowercased() {
        case "fmp4", "cmaf", "mp4": self = .fmp4
        case "ts", "mpegts": self = .ts
        default: self = fmp4Default ? .fmp4 : .ts
        }
    }

    var kind: OutputKind { self == .ts ? .hlsTS : .hlsFMP4 }
    var protocolName: String { kind.protocolName }
    var segmentExtension: String { self == .ts ? "ts" : "m4s" }
    var segmentContentType: String { self == .ts ? "video/mp2t" : "video/iso.segment" }
}

/// Makes the muxer of each variant and the CODECS attribute of the multivariant playlist; the
/// module fills it from RelayMP4 and the TS muxer (HLSMuxerFactories.swift), tests with fakes.
struct HLSMuxers: Sendable {
    var factory: @Sendable (HLSFormat) -> MuxerFactory
    /// RFC 6381 codec string of a track, nil for a track the variant does not carry (G.711).
    var codecString: @Sendable (AVStream) -> String?
}
