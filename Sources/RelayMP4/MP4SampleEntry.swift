import NIOCore

/// Sample entries (ISO/IEC 14496-12 §12.1.3, §12.2.3) with their codec configuration boxes
/// (ISO/IEC 14496-15 for `avcC`/`hvcC`, ISO/IEC 14496-14 for `esds`).
enum MP4SampleEntry {
    static func write(_ entry: MP4Track.Entry, into buffer: inout ByteBuffer) {
        switch entry {
        case .avc(let record, let width, let height):
            writeVisual("avc1", width: width, height: height, into: &buffer) {
                MP4Box.write("avcC", into: &$0) { $0.writeImmutableBuffer(record) }
            }
        case .hevc(let record, let width, let height):
            // hvc1: parameter sets are in hvcC (what Safari requires); in-band copies do no harm.
            writeVisual("hvc1", width: width, height: height, into: &buffer) {
                MP4Box.write("hvcC", into: &$0) { $0.writeImmutableBuffer(record) }
            }
        case .aac(let config, let channels, let sampleRate):
            writeAudio("mp4a", channels: channels, sampleRate: sampleRate, into: &buffer) {
                writeESDS(objectType: 0x40, specificInfo: config, into: &$0)
            }
        }
    }

    private static func writeVisual(_ type: StaticString, width: Int, height: Int, into buffer: inout ByteBuffer,
                                    config: (inout ByteBuffer) -> Void) {
        MP4Box.write(type, into: &buffer) {
            MP4Box.writeZeros(6, into: &$0)
            $0.writeInteger(UInt16(1))  // data_reference_index
            MP4Box.writeZeros(16, into: &$0)  // pre_defined, reserved
            $0.writeMultipleIntegers(UInt16(truncatingIfNeeded: width), UInt16(truncatingIfNeeded: height))
            $0.writeMultipleIntegers(UInt32(0x0048_0000), UInt32(0x0048_0000), UInt32(0))  // 72 dpi, reserved
            $0.writeInteger(UInt16(1))  // frame_count
            MP4Box.writeZeros(32, into: &$0)  // compressorname
            $0.writeMultipleIntegers(UInt16(0x0018), UInt16(0xFFFF))  // depth, pre_defined -1
            config(&$0)
        }
    }

    private static func writeAudio(_ type: StaticString, channels: Int, sampleRate: Int, into buffer: inout ByteBuffer,
                                   config: (inout ByteBuffer) -> Void) {
        MP4Box.write(type, into: &buffer) {
            MP4Box.writeZeros(6, into: &$0)
            $0.writeInteger(UInt16(1))  // data_reference_index
            MP4Box.writeZeros(8, into: &$0)
            $0.writeMultipleIntegers(UInt16(clamping: channels), UInt16(16), UInt32(0))  // sample size, pre_defined
            // 16.16 rate; rates over 65535 do not fit: decoders take the rate from the config.
            $0.writeInteger(UInt32(sampleRate <= 0xFFFF ? UInt32(clamping: sampleRate) << 16 : 0))
            config(&$0)
        }
    }

    /// `esds`: ES_Descriptor > DecoderConfigDescriptor (> DecoderSpecificInfo) + SLConfigDescriptor.
    private static func writeESDS(objectType: UInt8, specificInfo: ByteBuffer?, into buffer: inout ByteBuffer) {
        MP4Box.writeFull("esds", version: 0, flags: 0, into: &buffer) { esds in
            MP4Box.writeDescriptor(tag: 0x03, into: &esds) { es in
                es.writeMultipleIntegers(UInt16(0), UInt8(0))  // ES_ID, flags
                MP4Box.writeDescriptor(tag: 0x04, into: &es) { dc in
                    dc.writeInteger(objectType)
                    dc.writeInteger(UInt8(0x15))  // streamType audio (5) << 2 | upStream 0 | reserved 1
                    dc.writeMultipleIntegers(UInt8(0), UInt16(0), UInt32(0), UInt32(0))  // bufferSizeDB, bitrates
                    if let specificInfo {
                        MP4Box.writeDescriptor(tag: 0x05, into: &dc) { $0.writeImmutableBuffer(specificInfo) }
                    }
                }
                MP4Box.writeDescriptor(tag: 0x06, into: &es) { $0.writeInteger(UInt8(0x02)) }  // predefined: MP4
            }
        }
    }
}
