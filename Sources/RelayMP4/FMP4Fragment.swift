import NIOCore

/// One movie fragment of one sample (ISO/IEC 14496-12 §8.8.4): `moof` (`mfhd`, `traf` with
/// `tfhd`, `tfdt`, `trun`) and the `mdat` with the sample's bytes. A fragment per packet keeps a
/// live stream's latency at one frame and needs nothing held between packets.
enum FMP4Fragment {
    struct Sample {
        var decodeTime: UInt64
        var duration: UInt32
        var compositionOffset: Int32
        var isSync: Bool
        /// For audio every sample is a sync sample.
        var isVideo: Bool
    }

    /// §8.8.3.1 sample flags: sync samples depend on no other (sample_depends_on 2); other video
    /// samples depend on others (1) and are non-sync (sample_is_non_sync_sample).
    static let syncFlags: UInt32 = 0x0200_0000
    static let nonSyncFlags: UInt32 = 0x0101_0000

    /// Bytes the boxes around one sample take: moof 8 + mfhd 16 + traf 8 + tfhd 16 + tfdt 20
    /// + trun 36, and the mdat header 8 (within the framing allowance a TransStream sizes a
    /// one-packet segment with, so it needs no regrowth).
    static let overhead = 112

    static func write(sequence: UInt32, trackID: UInt32, sample: Sample, payload: ByteBuffer,
                      into buffer: inout ByteBuffer) {
        var dataOffsetAt = 0
        let moofStart = MP4Box.write("moof", into: &buffer) { moof in
            MP4Box.writeFull("mfhd", version: 0, flags: 0, into: &moof) { $0.writeInteger(sequence) }
            MP4Box.write("traf", into: &moof) { traf in
                MP4Box.writeFull("tfhd", version: 0, flags: 0x02_0000, into: &traf) {  // default-base-is-moof
                    $0.writeInteger(trackID)
                }
                MP4Box.writeFull("tfdt", version: 1, flags: 0, into: &traf) { $0.writeInteger(sample.decodeTime) }
                // data-offset, sample duration, size, flags and composition offset present;
                // version 1: the composition offset is signed.
                MP4Box.writeFull("trun", version: 1, flags: 0x00_0F01, into: &traf) {
                    $0.writeInteger(UInt32(1))
                    dataOffsetAt = $0.writerIndex
                    $0.writeInteger(UInt32(0))
                    $0.writeMultipleIntegers(sample.duration, UInt32(truncatingIfNeeded: payload.readableBytes),
                                             sample.isSync || !sample.isVideo ? syncFlags : nonSyncFlags,
                                             UInt32(bitPattern: sample.compositionOffset))
                }
            }
        }
        // data_offset counts from the moof's first byte (default-base-is-moof) to the sample.
        buffer.setInteger(UInt32(truncatingIfNeeded: buffer.writerIndex - moofStart + 8), at: dataOffsetAt)
        MP4Box.write("mdat", into: &buffer) { $0.writeImmutableBuffer(payload) }
    }
}
