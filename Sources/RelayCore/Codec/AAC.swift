import NIOCore

/// AAC configuration: AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) and ADTS headers (1.A.2).
public enum AAC {
    /// samplingFrequencyIndex 0...12.
    public static let sampleRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050,
                                     16000, 12000, 11025, 8000, 7350]

    /// channelConfiguration → channel count (0 = given by a program config element; 8-10 reserved).
    static let channelCounts = [0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 7, 8, 24, 8]

    public static func frequencyIndex(for sampleRate: Int) -> Int? {
        sampleRates.firstIndex(of: sampleRate)
    }

    public struct AudioSpecificConfig: Sendable, Equatable {
        /// Audio object type of the core coder (2 = LC). For explicitly signalled SBR/PS (5/29)
        /// this is the underlying type, so an ADTS header can be built from it.
        public var objectType: Int
        /// nil when the rate was sent explicitly (index 0xF).
        public var frequencyIndex: Int?
        /// Core sample rate: one AU is 1024 samples at this rate, whatever SBR does to the output.
        public var sampleRate: Int
        public var channelConfiguration: Int
        /// Output rate of explicitly signalled SBR (object type 5 or 29), else nil.
        public var extensionSampleRate: Int?

        public var channels: Int {
            channelConfiguration < AAC.channelCounts.count ? AAC.channelCounts[channelConfiguration] : 0
        }

        public var parameters: AudioParameters {
            AudioParameters(sampleRate: sampleRate, channels: channels, objectType: objectType)
        }

        public init(objectType: Int, sampleRate: Int, channelConfiguration: Int) {
            self.objectType = objectType
            self.frequencyIndex = AAC.frequencyIndex(for: sampleRate)
            self.sampleRate = sampleRate
            self.channelConfiguration = channelConfiguration
            self.extensionSampleRate = nil
        }

        /// Parses the leading fields; GASpecificConfig and extensions after them are ignored.
        public init(parsing asc: ByteBuffer) throws {
            var bytes = [UInt8](asc.readableBytesView)
            guard bytes.count >= 2 else { throw CodecError.truncated("AudioSpecificConfig: \(bytes.count) bytes") }
            bytes = Array(bytes.prefix(16))
            var r = BitReader(rbsp: bytes)
            var aot = try Self.readObjectType(&r)
            let (index, rate) = try Self.readFrequency(&r)
            channelConfiguration = try r.int(4)
            extensionSampleRate = nil
            if aot == 5 || aot == 29 {
                extensionSampleRate = try Self.readFrequency(&r).rate
                aot = try Self.readObjectType(&r)
                if aot == 22 { channelConfiguration = try r.int(4) }  // ER BSAC
            }
            guard aot != 0 else { throw CodecError.invalid("AudioSpecificConfig: audio object type 0") }
            guard rate > 0 else { throw CodecError.invalid("AudioSpecificConfig: sample rate 0") }
            objectType = aot
            frequencyIndex = index
            sampleRate = rate
        }

        /// Writes the 2-byte form (or longer for an escaped object type or explicit rate);
        /// GASpecificConfig flags are zero, which is what LC needs.
        public func write(into out: inout ByteBuffer) {
            var bits: [(value: UInt64, count: Int)] = []
            if objectType >= 31 {
                bits += [(31, 5), (UInt64(clamping: objectType - 32), 6)]
            } else {
                bits.append((UInt64(clamping: objectType), 5))
            }
            if let index = frequencyIndex {
                bits.append((UInt64(clamping: index), 4))
            } else {
                bits += [(0xF, 4), (UInt64(clamping: sampleRate), 24)]
            }
            bits += [(UInt64(clamping: channelConfiguration), 4), (0, 3)]  // frameLength, dependsOnCore, extension
            var acc: UInt64 = 0, n = 0
            for (value, count) in bits {
                acc = acc << count | (value & ((1 << count) - 1))
                n += count
                while n >= 8 {
                    out.writeInteger(UInt8(truncatingIfNeeded: acc >> (n - 8)))
                    n -= 8
                }
            }
            if n > 0 { out.writeInteger(UInt8(truncatingIfNeeded: acc << (8 - n))) }
        }

        public func encoded() -> ByteBuffer {
            var out = ByteBuffer()
            write(into: &out)
            return out
        }

        static func readObjectType(_ r: inout BitReader) throws -> Int {
            let aot = try r.int(5)
            return aot == 31 ? 32 + (try r.int(6)) : aot
        }

        static func readFrequency(_ r: inout BitReader) throws -> (index: Int?, rate: Int) {
            let index = try r.int(4)
            if index == 0xF { return (nil, try r.int(24)) }
            guard index < AAC.sampleRates.count else {
                throw CodecError.invalid("AudioSpecificConfig: samplingFrequencyIndex \(index)")
            }
            return (index, AAC.sampleRates[index])
        }
    }

    /// An AAC-LC AudioSpecificConfig for a rate and channel count (1...6 or 8 channels).
    public static func lcConfig(sampleRate: Int, channels: Int) throws -> ByteBuffer {
        guard sampleRate > 0, sampleRate < 1 << 24 else { throw CodecError.invalid("AAC sample rate \(sampleRate)") }
        guard let config = (1...7).first(where: { channelCounts[$0] == channels }) else {
            throw CodecError.unsupported("AAC channel count \(channels)")
        }
        return AudioSpecificConfig(objectType: 2, sampleRate: sampleRate, channelConfiguration: config).encoded()
    }

    /// An ADTS frame header. `frameLength` includes the header (7 bytes, 9 with CRC).
    public struct ADTSHeader: Sendable, Equatable {
        public var objectType: Int
        public var frequencyIndex: Int
        public var channelConfiguration: Int
        public var protectionAbsent: Bool
        public var frameLength: Int
        public var rawDataBlocks: Int

        public var headerLength: Int { protectionAbsent ? 7 : 9 }
        public var payloadLength: Int { frameLength - headerLength }
        public var sampleRate: Int { AAC.sampleRates[frequencyIndex] }
        public var config: AudioSpecificConfig {
            AudioSpecificConfig(objectType: objectType, sampleRate: sampleRate, channelConfiguration: channelConfiguration)
        }

        /// A header without CRC for one raw data block of `payloadLength` bytes.
        public init(config: AudioSpecificConfig, payloadLength: Int) throws {
            guard (1...4).contains(config.objectType) else {
                throw CodecError.unsupported("ADTS: audio object type \(config.objectType)")
            }
            guard let index = config.frequencyIndex, index < 13 else {
                throw CodecError.unsupported("ADTS: sample rate \(config.sampleRate) has no frequency index")
            }
            guard (0...7).contains(config.channelConfiguration) else {
                throw CodecError.unsupported("ADTS: channel configuration \(config.channelConfiguration)")
            }
            guard payloadLength >= 0, payloadLength + 7 <= 0x1FFF else {
                throw CodecError.invalid("ADTS: payload of \(payloadLength) bytes")
            }
            objectType = config.objectType
            frequencyIndex = index
            channelConfiguration = config.channelConfiguration
            protectionAbsent = true
            frameLength = payloadLength + 7
            rawDataBlocks = 1
        }

        /// Parses the header at the buffer's reader index (not consuming it).
        public init(parsing buffer: ByteBuffer) throws {
            guard buffer.readableBytes >= 7,
                  let bytes = buffer.getBytes(at: buffer.readerIndex, length: 7) else {
                throw CodecError.truncated("ADTS header: \(buffer.readableBytes) bytes")
            }
            guard bytes[0] == 0xFF, bytes[1] & 0xF6 == 0xF0 else {
                throw CodecError.invalid("ADTS header: no syncword (\(bytes[0]) \(bytes[1]))")
            }
            protectionAbsent = bytes[1] & 0x01 != 0
            objectType = Int(bytes[2] >> 6) + 1
            frequencyIndex = Int(bytes[2] >> 2 & 0x0F)
            channelConfiguration = Int((bytes[2] & 0x01) << 2 | bytes[3] >> 6)
            frameLength = Int(bytes[3] & 0x03) << 11 | Int(bytes[4]) << 3 | Int(bytes[5] >> 5)
            rawDataBlocks = Int(bytes[6] & 0x03) + 1
            guard frequencyIndex < 13 else {
                throw CodecError.invalid("ADTS header: sampling_frequency_index \(frequencyIndex)")
            }
            guard frameLength >= headerLength else {
                throw CodecError.invalid("ADTS header: frame length \(frameLength) < header length \(headerLength)")
            }
            if !protectionAbsent && buffer.readableBytes < 9 {
                throw CodecError.truncated("ADTS header with CRC: \(buffer.readableBytes) bytes")
            }
        }

        /// Writes the 7-byte header (protection_absent = 1; a CRC is never written).
        public func write(into out: inout ByteBuffer) {
            let length = UInt32(frameLength & 0x1FFF)
            out.writeInteger(UInt8(0xFF))
            out.writeInteger(UInt8(0xF1))  // MPEG-4, layer 0, protection absent
            out.writeInteger(UInt8((objectType - 1) & 0x03) << 6 | UInt8(frequencyIndex & 0x0F) << 2
                             | UInt8(channelConfiguration >> 2 & 0x01))
            out.writeInteger(UInt8(channelConfiguration & 0x03) << 6 | UInt8(length >> 11))
            out.writeInteger(UInt8(truncatingIfNeeded: length >> 3))
            out.writeInteger(UInt8(truncatingIfNeeded: length << 5) | 0x1F)  // buffer fullness 0x7FF (VBR)
            out.writeInteger(UInt8(0xFC | (rawDataBlocks - 1) & 0x03))
        }
    }
}

extension AVStream {
    /// An AAC track from an AudioSpecificConfig (kept as `extradata`).
    public static func aac(index: Int, timebase: Int, asc: ByteBuffer) throws -> AVStream {
        let config = try AAC.AudioSpecificConfig(parsing: asc)
        return AVStream(index: index, codec: .aac, timebase: timebase, extradata: asc, audio: config.parameters)
    }

    /// An AAC-LC track for a rate and channel count; builds the AudioSpecificConfig.
    public static func aac(index: Int, timebase: Int, sampleRate: Int, channels: Int) throws -> AVStream {
        try aac(index: index, timebase: timebase, asc: AAC.lcConfig(sampleRate: sampleRate, channels: channels))
    }
}
