import NIOCore

/// IMA (DVI) ADPCM, 4 bits a sample, in the blocks terminals send: a 4-byte state header
/// (predictor int16 little-endian, step index, reserved) then the nibbles. Every block restarts
/// the decoder from its header, so a lost block costs only itself.
///
/// Two layouts are in the field: the Microsoft/WAV one (ffmpeg `adpcm_ima_wav`: the header's
/// predictor is the block's first sample, then the low nibble of each byte first) and the
/// Intel/DVI reference one (the header is only the state; the high nibble first).
public struct IMAADPCMDecoder: Sendable {
    public enum NibbleOrder: String, Sendable, CaseIterable {
        /// WAV: low nibble first, the header's predictor output as the first sample.
        case lowFirst = "low-first"
        /// Intel/DVI reference: high nibble first, the header is state only.
        case highFirst = "high-first"
    }

    public static let headerBytes = 4

    /// The decoder state after a block; equal to the next block's header when the sender's
    /// encoder runs continuously, which tells the nibble order (see `JT1078AudioTranscoder`).
    public struct State: Sendable, Equatable {
        public var predictor: Int
        public var index: Int

        public init(predictor: Int, index: Int) {
            self.predictor = predictor
            self.index = index
        }

        /// The state a block header holds; nil when the block is shorter than the header. An
        /// index above 88 is clamped (some encoders never send one; a garbled one must not trap).
        public init?(header block: ByteBuffer) {
            guard block.readableBytes >= IMAADPCMDecoder.headerBytes,
                  let p = block.getInteger(at: block.readerIndex, endianness: .little, as: Int16.self),
                  let i = block.getInteger(at: block.readerIndex + 2, as: UInt8.self) else { return nil }
            predictor = Int(p)
            index = min(Int(i), 88)
        }

        /// One nibble: the step-size table's difference added, predictor and index clamped.
        @inline(__always)
        mutating func expand(_ nibble: UInt8) -> Int16 {
            let step = IMAADPCMDecoder.steps[index]
            var diff = step >> 3
            if nibble & 4 != 0 { diff += step }
            if nibble & 2 != 0 { diff += step >> 1 }
            if nibble & 1 != 0 { diff += step >> 2 }
            predictor = nibble & 8 != 0 ? max(predictor - diff, -32768) : min(predictor + diff, 32767)
            index = min(max(index + IMAADPCMDecoder.indexShift[Int(nibble & 7)], 0), 88)
            return Int16(truncatingIfNeeded: predictor)
        }
    }

    /// Samples a block of `bytes` bytes decodes to.
    public static func sampleCount(bytes: Int, order: NibbleOrder) -> Int {
        guard bytes >= headerBytes else { return 0 }
        return (bytes - headerBytes) * 2 + (order == .lowFirst ? 1 : 0)
    }

    /// Decodes one block, handing each sample to `sink` (pass nil to only follow the state);
    /// the state after it, nil when the block is shorter than its header.
    @discardableResult
    public static func decode(block: ByteBuffer, order: NibbleOrder, _ sink: ((Int16) -> Void)?) -> State? {
        guard var state = State(header: block) else { return nil }
        if order == .lowFirst { sink?(Int16(truncatingIfNeeded: state.predictor)) }
        let lowFirst = order == .lowFirst
        block.withUnsafeReadableBytes { bytes in
            for byte in bytes.dropFirst(headerBytes) {
                let first = lowFirst ? byte & 0x0F : byte >> 4
                let second = lowFirst ? byte >> 4 : byte & 0x0F
                let s1 = state.expand(first)
                let s2 = state.expand(second)
                sink?(s1)
                sink?(s2)
            }
        }
        return state
    }

    static let indexShift = [-1, -1, -1, -1, 2, 4, 6, 8]

    /// The 89 quantizer step sizes of the IMA recommendation (about 1.1× apart).
    static let steps = [
        7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
        50, 55, 60, 66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307,
        337, 371, 408, 449, 494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066,
        2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493, 10442, 11487, 12635, 13899,
        15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767,
    ]
}
