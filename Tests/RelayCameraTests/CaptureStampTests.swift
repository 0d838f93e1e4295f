import NIOCore
import RelayCamera
import RelayCore
import Testing

struct CaptureStampTests {
    static let awkwardTimes: [Int64] = [
        0,  // all zero bytes: emulation prevention on every pair
        1,
        0x0000_0000_0000_0300,
        0x0000_0001_0000_0002,
        0x0102_0300_0000_0003,
        1_732_000_000_123_456,  // a real wall-clock time
        Int64.max,
    ]

    /// A fake picture: parameter sets, then two slices.
    static func unit(_ codec: CodecID) -> AccessUnit {
        let nals: [[UInt8]] = codec == .h265
            ? [[0x46, 0x01, 0x10], [0x40, 0x01, 0x0C], [0x42, 0x01, 0x01], [0x44, 0x01, 0xC1], [0x26, 0x01, 0xAF, 0x00, 0x03],
               [0x26, 0x01, 0x2F, 0x11]]
            : [[0x09, 0xF0], [0x67, 0x4D, 0x40], [0x68, 0xEE], [0x65, 0x88, 0x84], [0x65, 0x40, 0x21]]
        return AccessUnit(codec: codec, nals: nals.map { ByteBuffer(bytes: $0) })
    }

    @Test(arguments: [CodecID.h264, .h265])
    func stampRoundTripsThroughTheAccessUnit(codec: CodecID) throws {
        for time in Self.awkwardTimes {
            let avcc = Self.unit(codec).lengthPrefixed(stampMicros: time)
            #expect(CaptureStamp.captureMicros(inAccessUnit: avcc, codec: codec) == time, "time \(time)")
            let nals = try AnnexB.nalUnits(lengthPrefixed: avcc)
            let types = nals.map { nal -> UInt8 in
                let h = nal.getInteger(at: nal.readerIndex, as: UInt8.self)!
                return codec == .h265 ? (h >> 1) & 0x3F : h & 0x1F
            }
            // The SEI goes right before the first slice, after the parameter sets; AUDs are dropped.
            if codec == .h265 {
                #expect(types == [32, 33, 34, 39, 19, 19], "\(types)")
            } else {
                #expect(types == [7, 8, 6, 5, 5], "\(types)")
            }
            // No start-code emulation inside the SEI: 00 00 00/01/02 never appear (00 00 03 is
            // the emulation prevention itself).
            let sei = Array(nals[codec == .h265 ? 3 : 2].readableBytesView)
            for i in 0..<(sei.count - 2) {
                #expect(!(sei[i] == 0 && sei[i + 1] == 0 && sei[i + 2] <= 2), "emulation at \(i) in \(sei)")
            }
        }
    }

    @Test func emulationPreventionIsAddedAndRemoved() {
        let rbsp: [UInt8] = [0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0x80]
        let escaped = CaptureStamp.addEmulationPrevention(rbsp)
        #expect(escaped == [0, 0, 3, 0, 0, 3, 0, 1, 0, 0, 3, 2, 0, 0, 3, 3, 0, 0, 4, 0x80])
        #expect(CaptureStamp.removeEmulationPrevention(escaped) == rbsp)
        // The all-zero stamp needs emulation prevention and still parses.
        let nal = CaptureStamp.seiNAL(codec: .h264, captureMicros: 0)
        #expect(nal.count > 1 + 2 + 24 + 1)
    }

    @Test func noStampOrAnotherUUIDIsNil() {
        #expect(CaptureStamp.captureMicros(inAccessUnit: Self.unit(.h264).lengthPrefixed(), codec: .h264) == nil)
        // Same layout, another UUID: not ours.
        var nal = CaptureStamp.seiNAL(codec: .h264, captureMicros: 42)
        nal[3] ^= 0xFF
        var avcc = ByteBuffer()
        avcc.writeInteger(UInt32(nal.count))
        avcc.writeBytes(nal)
        #expect(CaptureStamp.captureMicros(inAccessUnit: avcc, codec: .h264) == nil)
        // A truncated access unit is not a crash.
        var broken = ByteBuffer()
        broken.writeInteger(UInt32(100))
        broken.writeBytes([0x06, 0x05])
        #expect(CaptureStamp.captureMicros(inAccessUnit: broken, codec: .h264) == nil)
    }

    @Test func otherSEIMessagesBeforeOursAreSkipped() {
        // SEI with a 300-byte unregistered message of another UUID (sizes coded with 0xFF), then ours.
        var rbsp: [UInt8] = [5, 0xFF, 45] + [UInt8](repeating: 0x11, count: 300)
        let ours = CaptureStamp.seiNAL(codec: .h264, captureMicros: 777)
        rbsp += CaptureStamp.removeEmulationPrevention(Array(ours.dropFirst()))
        let nal = [UInt8(0x06)] + CaptureStamp.addEmulationPrevention(rbsp)
        var avcc = ByteBuffer()
        avcc.writeInteger(UInt32(nal.count))
        avcc.writeBytes(nal)
        #expect(CaptureStamp.captureMicros(inAccessUnit: avcc, codec: .h264) == 777)
    }
}
