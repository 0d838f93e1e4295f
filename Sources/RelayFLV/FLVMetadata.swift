import NIOCore
import RelayCore

/// `onMetaData` built from the tracks really present, so players (flv.js, ffmpeg) see the same
/// picture the sequence headers describe, whatever the publisher claimed.
public enum FLVMetadata {
    public static func amf(streams: [AVStream], hevcMode: HEVCFLVMode) -> AMF0Value {
        var props: [AMF0Property] = [AMF0Property(key: "duration", value: .number(0))]
        if let v = streams.first(where: { $0.kind == .video }) {
            if let p = v.video {
                props.append(AMF0Property(key: "width", value: .number(Double(p.width))))
                props.append(AMF0Property(key: "height", value: .number(Double(p.height))))
            }
            let codecID: Double
            switch v.codec {
            case .h265: codecID = hevcMode == .enhanced ? Double(0x6876_6331) : 12  // 'hvc1'
            default: codecID = 7
            }
            props.append(AMF0Property(key: "videocodecid", value: .number(codecID)))
        }
        if let a = streams.first(where: { $0.kind == .audio }) {
            let codecID: Double
            switch a.codec {
            case .aac: codecID = 10
            case .g711a: codecID = 7
            case .g711u: codecID = 8
            case .mp3: codecID = 2
            default: codecID = 0
            }
            props.append(AMF0Property(key: "audiocodecid", value: .number(codecID)))
            if let p = a.audio {
                props.append(AMF0Property(key: "audiosamplerate", value: .number(Double(p.sampleRate))))
                props.append(AMF0Property(key: "audiosamplesize", value: .number(16)))
                props.append(AMF0Property(key: "stereo", value: .boolean(p.channels > 1)))
            }
        }
        props.append(AMF0Property(key: "encoder", value: .string("LiveRelay")))
        return .ecmaArray(props)
    }

    /// Script tag body: "onMetaData" + ECMA array.
    public static func write(streams: [AVStream], hevcMode: HEVCFLVMode, into buffer: inout ByteBuffer) {
        AMF0Value.string("onMetaData").encode(into: &buffer)
        amf(streams: streams, hevcMode: hevcMode).encode(into: &buffer)
    }
}
