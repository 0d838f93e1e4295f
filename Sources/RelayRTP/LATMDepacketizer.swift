import NIOCore
import RelayCore

/// AAC as RFC 6416 `MP4A-LATM` with `cpresent=0` (the configuration is in the SDP, as GStreamer's
/// rtspclientsink sends it): each access unit is a PayloadLengthInfo (bytes of 255 then the
/// rest) followed by its bytes; an AU larger than a packet continues in the next ones, the last
/// with the marker bit. One AU per packet set (numSubFrames 0).
///
/// Loss: a gap drops the AU it cuts through.
public struct LATMDepacketizer: RTPDepacketizer {
    public let maxAccessUnitBytes: Int
    public private(set) var stats = RTPDepacketizerStats()
    private var sequence = RTPSequenceCheck()
    private var unwrapper = TimestampUnwrapper(bits: 32)
    private var pending = ByteBuffer()
    private var broken = false

    public init(maxAccessUnitBytes: Int = RTPAccessUnit.defaultMaxBytes) {
        self.maxAccessUnitBytes = max(maxAccessUnitBytes, 1)
    }

    public mutating func push(_ packet: RTPPacket, emit: (RTPAccessUnit) throws -> Void) rethrows {
        guard let gap = sequence.admit(packet.sequence, counting: &stats) else { return }
        let time = unwrapper.unwrap(UInt64(packet.timestamp))
        if gap, pending.readableBytes > 0 || broken {
            stats.droppedAccessUnits &+= 1
            pending.clear()
            broken = !packet.marker  // the rest of the cut AU is skipped up to its marker
            if !broken { return }
        }
        if broken {
            if packet.marker { broken = false }
            return
        }
        guard pending.readableBytes &+ packet.payload.readableBytes <= maxAccessUnitBytes &+ 64 else {
            stats.oversizeAccessUnits &+= 1
            stats.droppedAccessUnits &+= 1
            pending.clear()
            broken = !packet.marker
            return
        }
        var payload = packet.payload
        pending.writeBuffer(&payload)
        guard packet.marker else { return }
        defer { pending = ByteBuffer() }
        var length = 0
        while let b = pending.readInteger(as: UInt8.self) {
            length &+= Int(b)
            if b != 255 { break }
        }
        guard length > 0, length <= maxAccessUnitBytes, let au = pending.readSlice(length: length) else {
            stats.malformedPackets &+= 1
            stats.droppedAccessUnits &+= 1
            return
        }
        stats.accessUnits &+= 1
        try emit(RTPAccessUnit(payload: au, rtpTime: time, isKeyFrame: true))
    }

    public mutating func flush(emit: (RTPAccessUnit) throws -> Void) rethrows {
        pending.clear()
    }

    /// The AudioSpecificConfig inside an SDP `config=` StreamMuxConfig (audioMuxVersion 0, one
    /// program and layer): 15 bits of header, then a 2-byte AAC configuration. Nil otherwise.
    public static func audioSpecificConfig(streamMuxConfig: ByteBuffer) -> ByteBuffer? {
        var reader = BitReader(streamMuxConfig, from: streamMuxConfig.readerIndex, bits: streamMuxConfig.readableBytes * 8)
        guard reader.read(1) == 0,                   // audioMuxVersion
              reader.read(1) != nil,                 // allStreamsSameTimeFraming
              reader.read(6) == 0,                   // numSubFrames
              reader.read(4) == 0, reader.read(3) == 0,  // numProgram, numLayer
              let asc = reader.read(16) else { return nil }
        let objectType = asc >> 11, frequencyIndex = (asc >> 7) & 0xF
        guard objectType > 0, objectType < 31, frequencyIndex < 13 else { return nil }
        var out = ByteBuffer()
        out.writeInteger(UInt16(asc))
        return out
    }
}
