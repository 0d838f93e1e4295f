import NIOCore

/// ITU-T G.726 ADPCM decoder: 8 kHz, 2/3/4/5 bits a sample (16/24/32/40 kb/s), written from the
/// Recommendation's decoder blocks (RECONST, ADAPT_P with its FMULT floating point, ADAPT_Q, the
/// speed control and the tone/transition detector). The predictor carries on across frames: the
/// codec has no frame boundaries. All state is clamped or leaky, so no input can make it overflow.
public struct G726Decoder: Sendable {
    /// How code words sit in a byte. The payload does not say; senders differ.
    public enum Packing: String, Sendable, CaseIterable {
        /// RFC 3551: the first code word in the least significant bits (ffmpeg `g726le`).
        case le
        /// ITU-T I.366.2 AAL2: the first code word in the most significant bits (ffmpeg `g726`).
        case be
    }

    /// 2…5.
    public let bitsPerSample: Int
    public let packing: Packing
    private let table: Table

    // Quantizer scale factor adaptation (Y_L, Y_U), speed control (DMS, DML, AP), tone detect.
    private var yl = 34816
    private var yu = 544
    private var dms = 0
    private var dml = 0
    private var ap = 0
    private var td = false
    // Predictor: pole (A) and zero (B) coefficients, and the last SR / DQ values in the 11-bit
    // floating format FMULT reads (sign as a -0x400 offset, 4-bit exponent, 6-bit mantissa).
    private var a = [0, 0]
    private var b = [0, 0, 0, 0, 0, 0]
    private var sr = [0x20, 0x20]
    private var dq = [0x20, 0x20, 0x20, 0x20, 0x20, 0x20]
    private var pk = [false, false]
    /// UPB's leak, 2^-8, and 2^-9 at 40 kb/s as the Recommendation has it. ffmpeg's G.726 uses
    /// 2^-8 at every rate, so its 40 kb/s streams only decode with 8 here (the tests set it).
    var zeroLeakShift: Int

    /// `bitsPerSample` outside 2…5 is clamped into it.
    public init(bitsPerSample: Int, packing: Packing) {
        let bits = min(max(bitsPerSample, 2), 5)
        self.bitsPerSample = bits
        self.packing = packing
        table = Table.forBits(bits)
        zeroLeakShift = bits == 5 ? 9 : 8
    }

    /// The bit rate: 16000, 24000, 32000 or 40000.
    public var bitRate: Int { bitsPerSample * 8000 }

    /// Bits a sample for a bit rate of 16000/24000/32000/40000 b/s; nil otherwise.
    public static func bitsPerSample(bitRate: Int) -> Int? {
        [16000, 24000, 32000, 40000].contains(bitRate) ? bitRate / 8000 : nil
    }

    /// Samples in `bytes` bytes (a code word cut by the end of the frame is dropped).
    public func sampleCount(bytes: Int) -> Int { max(0, bytes) * 8 / bitsPerSample }

    /// Decodes every whole code word of `frame`, in order, handing each sample to `sink`.
    public mutating func decode(_ frame: ByteBuffer, _ sink: (Int16) -> Void) {
        let bits = bitsPerSample
        let mask = 1 << bits - 1
        let lsbFirst = packing == .le
        frame.withUnsafeReadableBytes { bytes in
            var acc = 0
            var held = 0
            for byte in bytes {
                if lsbFirst {
                    acc |= Int(byte) << held
                    held += 8
                    while held >= bits {
                        sink(decode(code: acc & mask))
                        acc >>= bits
                        held -= bits
                    }
                } else {
                    acc = (acc << 8 | Int(byte)) & 0xFFFF
                    held += 8
                    while held >= bits {
                        held -= bits
                        sink(decode(code: acc >> held & mask))
                    }
                }
            }
        }
    }

    /// One code word → one 16-bit sample.
    public mutating func decode(code: Int) -> Int16 {
        let i = code & (1 << bitsPerSample - 1)
        var sezi = 0
        for k in 0..<6 { sezi &+= Self.fmult(b[k] >> 2, dq[k]) }
        let sez = sezi >> 1
        let se = (sezi &+ Self.fmult(a[1] >> 2, sr[1]) &+ Self.fmult(a[0] >> 2, sr[0])) >> 1
        let y = stepSize()
        let dq = Self.reconstruct(negative: i & table.signBit != 0, dqln: table.dqln[i], y: y)
        let sr = dq < 0 ? se &- (dq & table.magnitudeMask) : se &+ dq
        update(y: y, wi: table.wi[i], fi: table.fi[i], dq: dq, sr: sr, dqsez: sr &- se &+ sez)
        return Int16(clamping: sr << 2)  // SR has a 14-bit range
    }

    // MARK: blocks of the Recommendation

    /// MIX: the step size between the unlocked (Y_U) and locked (Y_L) scale factors.
    private func stepSize() -> Int {
        if ap >= 256 { return yu }
        var y = yl >> 6
        let dif = yu &- y
        let al = ap >> 2
        if dif > 0 {
            y &+= (dif &* al) >> 6
        } else if dif < 0 {
            y &+= (dif &* al &+ 0x3F) >> 6
        }
        return y
    }

    /// ADDA + ANTILOG: the quantized difference; negative values carry the sign as -0x8000 + magnitude.
    private static func reconstruct(negative: Bool, dqln: Int, y: Int) -> Int {
        let dql = dqln &+ (y >> 2)
        if dql < 0 { return negative ? -0x8000 : 0 }
        let exponent = (dql >> 7) & 15
        let mantissa = 128 + (dql & 127)
        let dq = (mantissa << 7) >> (14 - exponent)
        return negative ? dq - 0x8000 : dq
    }

    /// FMULT: a predictor coefficient (14-bit) times a value in the 11-bit floating format.
    private static func fmult(_ an: Int, _ srn: Int) -> Int {
        let anmag = an > 0 ? an : (0 &- an) & 0x1FFF
        let anexp = bitLength(anmag) - 6
        let anmant = anmag == 0 ? 32 : (anexp >= 0 ? anmag >> anexp : anmag << -anexp)
        let wanexp = anexp + ((srn >> 6) & 0xF) - 13
        let wanmant = (anmant &* (srn & 0x3F) &+ 0x30) >> 4
        let product = wanexp >= 0 ? (wanmant << wanexp) & 0x7FFF : wanmant >> -wanexp
        return (an ^ srn) < 0 ? -product : product
    }

    /// Bits needed for a non-negative value, at most 15 (the Recommendation's 15-bit magnitudes).
    private static func bitLength(_ value: Int) -> Int {
        min(15, Int.bitWidth - max(value, 0).leadingZeroBitCount)
    }

    /// FLOAT A / FLOAT B: a magnitude into the floating format FMULT reads.
    private static func float(magnitude: Int, negative: Bool) -> Int {
        guard magnitude != 0 else { return negative ? 0x20 - 0x400 : 0x20 }
        let exponent = bitLength(magnitude)
        let value = exponent << 6 + (magnitude << 6) >> exponent & 0x3F
        return negative ? value - 0x400 : value
    }

    /// The adaptation after each sample: scale factors, predictor coefficients, delays, speed.
    private mutating func update(y: Int, wi: Int, fi: Int, dq: Int, sr: Int, dqsez: Int) {
        let pk0 = dqsez < 0
        let magnitude = dq & 0x7FFF
        // TRANS: a large difference after tone-like input is a transition (modem data).
        let ylint = yl >> 15
        let ylfrac = (yl >> 10) & 0x1F
        let thr2 = ylint > 9 ? 31 << 10 : (32 + ylfrac) << ylint
        let transition = td && magnitude > (thr2 + thr2 >> 1) >> 1
        // FUNCTW, FILTD, LIMB, FILTE.
        yu = min(max(y &+ ((wi &- y) >> 5), 544), 5120)
        yl = yl &+ yu &+ ((0 &- yl) >> 6)

        var a2p = 0
        if transition {
            a = [0, 0]
            b = [0, 0, 0, 0, 0, 0]
        } else {
            let pks1 = pk0 != pk[0]
            // UPA2 + LIMC.
            a2p = a[1] &- (a[1] >> 7)
            if dqsez != 0 {
                let fa1 = pks1 ? a[0] : 0 &- a[0]
                if fa1 < -8191 {
                    a2p &-= 0x100
                } else if fa1 > 8191 {
                    a2p &+= 0xFF
                } else {
                    a2p &+= fa1 >> 5
                }
                if pk0 != pk[1] {
                    a2p = a2p <= -12160 ? -12288 : (a2p >= 12416 ? 12288 : a2p &- 0x80)
                } else {
                    a2p = a2p <= -12416 ? -12288 : (a2p >= 12160 ? 12288 : a2p &+ 0x80)
                }
            }
            a[1] = a2p
            // UPA1 + LIMD.
            a[0] &-= a[0] >> 8
            if dqsez != 0 { a[0] &+= pks1 ? -192 : 192 }
            let a1ul = 15360 - a2p
            a[0] = min(max(a[0], -a1ul), a1ul)
            // UPB: the 40 kb/s rate leaks more slowly.
            let leak = zeroLeakShift
            for k in 0..<6 {
                var bk = b[k] &- b[k] >> leak
                if magnitude != 0 { bk &+= (dq ^ self.dq[k]) >= 0 ? 128 : -128 }
                b[k] = Int(Int16(truncatingIfNeeded: bk))  // a 16-bit word in the Recommendation
            }
        }
        // Delays of DQ and SR, in the floating format.
        for k in stride(from: 5, to: 0, by: -1) { self.dq[k] = self.dq[k - 1] }
        self.dq[0] = Self.float(magnitude: magnitude, negative: dq < 0)
        self.sr[1] = self.sr[0]
        self.sr[0] = sr > -32768 ? Self.float(magnitude: min(abs(sr), 0x7FFF), negative: sr < 0) : 0x20 - 0x400
        pk[1] = pk[0]
        pk[0] = pk0
        // TONE: strong negative correlation suggests a tone.
        td = !transition && a2p < -11776
        // FILTA, FILTB, SUBTC, FILTC: adaptation speed.
        dms &+= (fi &- dms) >> 5
        dml &+= ((fi << 2) &- dml) >> 7
        if transition {
            ap = 256
        } else if y < 1536 || td || abs((dms << 2) &- dml) >= dml >> 3 {
            ap &+= (0x200 &- ap) >> 4
        } else {
            ap &+= (0 &- ap) >> 4
        }
    }

    /// The rate's tables (G.726 tables 7 to 14): log magnitude of the reconstructed difference
    /// (DQLN), scale factor multiplier (W, ×32) and the speed-control function (F, ×512).
    struct Table: Sendable {
        let signBit: Int
        /// 40 kb/s differences reach 15 bits; the other rates stay within 14.
        let magnitudeMask: Int
        let dqln: [Int]
        let wi: [Int]
        let fi: [Int]

        /// Tables list the non-negative codes; the negative half mirrors them.
        init(bits: Int, dqln: [Int], wi: [Int], fi: [Int]) {
            signBit = 1 << (bits - 1)
            magnitudeMask = bits == 5 ? 0x7FFF : 0x3FFF
            self.dqln = dqln + dqln.reversed()
            self.wi = wi + wi.reversed()
            self.fi = fi + fi.reversed()
        }

        static let r16 = Table(bits: 2, dqln: [116, 365], wi: [-704, 14048], fi: [0, 0xE00])
        static let r24 = Table(bits: 3, dqln: [-2048, 135, 273, 373], wi: [-128, 960, 4384, 18624],
                               fi: [0, 0x200, 0x400, 0xE00])
        static let r32 = Table(bits: 4, dqln: [-2048, 4, 135, 213, 273, 323, 373, 425],
                               wi: [-384, 576, 1312, 2048, 3584, 6336, 11360, 35904],
                               fi: [0, 0, 0, 0x200, 0x200, 0x200, 0x600, 0xE00])
        static let r40 = Table(bits: 5, dqln: [-2048, -66, 28, 104, 169, 224, 274, 318, 358, 395, 429, 459, 488, 514, 539, 566],
                               wi: [448, 448, 768, 1248, 1280, 1312, 1856, 3200, 4512, 5728, 7008, 8960, 11456, 14080, 16928, 22272],
                               fi: [0, 0, 0, 0, 0, 0x200, 0x200, 0x200, 0x200, 0x200, 0x400, 0x600, 0x800, 0xA00, 0xC00, 0xC00])

        static func forBits(_ bits: Int) -> Table {
            switch bits {
            case 2: return r16
            case 3: return r24
            case 5: return r40
            default: return r32
            }
        }
    }
}
