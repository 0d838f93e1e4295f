import FuzzSupport
import NIOCore
import RelayFLV

/// AMF0 values (RTMP commands, onMetaData): decode, and re-encode what decoded.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        var buffer = ByteBuffer(bytes: input)
        guard let values = try? AMF0Value.decodeAll(from: &buffer) else { return }
        var out = ByteBuffer()
        AMF0Value.encode(values, into: &out)
        _ = values.map(\.description)
        // What we encode must decode to as many values.
        let again = try? AMF0Value.decodeAll(from: &out)
        invariant(again?.count == values.count, "re-encoded AMF0 does not decode back")
    }
}
