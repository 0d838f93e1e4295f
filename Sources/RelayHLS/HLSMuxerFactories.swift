import Logging
import RelayCore
import RelayMP4

extension HLSMuxers {
    /// The real muxers: MPEG-TS (`TSMuxer`) and fMP4 without framing (`FMP4Muxer`), each with a
    /// merge window of 0 so the segmenter gets every packet as its own `Segment`.
    static let standard = HLSMuxers(
        factory: { format in
            let logger = Logger(label: "relay.mux")
            switch format {
            case .ts: return MuxerFactory(kind: .hlsTS, mergePolicy: .fixed(ms: 0)) { TSMuxer(logger: logger) }
            case .fmp4: return MuxerFactory(kind: .hlsFMP4, mergePolicy: .fixed(ms: 0)) { FMP4Muxer(framing: .none, logger: logger) }
            }
        },
        codecString: { MP4CodecString.rfc6381($0) })
}
