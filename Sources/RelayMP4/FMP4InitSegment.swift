import NIOCore

/// The initialization segment of a fragmented MP4 stream (ISO/IEC 14496-12 §8.8): `ftyp` and a
/// `moov` whose tracks have no samples (`mvex` announces that they come in movie fragments).
enum FMP4InitSegment {
    static func write(tracks: [MP4Track], into buffer: inout ByteBuffer) {
        MP4Box.write("ftyp", into: &buffer) {
            // iso6: tfdt v1 and trun v1 (signed composition offsets); cmfc: CMAF-style fragments.
            MP4Box.writeFourCC("iso6", into: &$0)
            $0.writeInteger(UInt32(0))
            for brand: StaticString in ["iso6", "cmfc", "iso5", "mp41"] { MP4Box.writeFourCC(brand, into: &$0) }
        }
        MP4Box.write("moov", into: &buffer) { moov in
            writeMovieHeader(nextTrackID: (tracks.map(\.id).max() ?? 0) &+ 1, into: &moov)
            for track in tracks { writeTrack(track, into: &moov) }
            MP4Box.write("mvex", into: &moov) { mvex in
                for track in tracks {
                    MP4Box.writeFull("trex", version: 0, flags: 0, into: &mvex) {
                        $0.writeInteger(track.id)
                        $0.writeInteger(UInt32(1))  // default_sample_description_index
                        $0.writeMultipleIntegers(UInt32(0), UInt32(0), UInt32(0))  // duration, size, flags: per sample
                    }
                }
            }
        }
    }

    private static func writeMovieHeader(nextTrackID: UInt32, into buffer: inout ByteBuffer) {
        MP4Box.writeFull("mvhd", version: 0, flags: 0, into: &buffer) {
            $0.writeMultipleIntegers(UInt32(0), UInt32(0), UInt32(1000), UInt32(0))  // times, timescale, duration
            $0.writeInteger(UInt32(0x0001_0000))  // rate 1.0
            $0.writeInteger(UInt16(0x0100))  // volume 1.0
            MP4Box.writeZeros(10, into: &$0)
            MP4Box.writeUnityMatrix(into: &$0)
            MP4Box.writeZeros(24, into: &$0)  // pre_defined
            $0.writeInteger(nextTrackID)
        }
    }

    private static func writeTrack(_ track: MP4Track, into buffer: inout ByteBuffer) {
        MP4Box.write("trak", into: &buffer) { trak in
            MP4Box.writeFull("tkhd", version: 0, flags: 0x000003, into: &trak) {  // enabled, in movie
                $0.writeMultipleIntegers(UInt32(0), UInt32(0), track.id, UInt32(0), UInt32(0))
                MP4Box.writeZeros(8, into: &$0)
                $0.writeMultipleIntegers(UInt16(0), UInt16(0))  // layer, alternate_group
                $0.writeInteger(UInt16(track.isVideo ? 0 : 0x0100))  // volume
                $0.writeInteger(UInt16(0))
                MP4Box.writeUnityMatrix(into: &$0)
                let size = track.presentationSize
                $0.writeMultipleIntegers(UInt32(size.width) << 16, UInt32(size.height) << 16)
            }
            MP4Box.write("mdia", into: &trak) { mdia in
                MP4Box.writeFull("mdhd", version: 0, flags: 0, into: &mdia) {
                    $0.writeMultipleIntegers(UInt32(0), UInt32(0), UInt32(clamping: track.timescale), UInt32(0))
                    $0.writeMultipleIntegers(UInt16(0x55C4), UInt16(0))  // language "und"
                }
                MP4Box.writeFull("hdlr", version: 0, flags: 0, into: &mdia) {
                    $0.writeInteger(UInt32(0))
                    MP4Box.writeFourCC(track.isVideo ? "vide" : "soun", into: &$0)
                    MP4Box.writeZeros(12, into: &$0)
                    $0.writeString(track.isVideo ? "VideoHandler" : "SoundHandler")
                    $0.writeInteger(UInt8(0))
                }
                MP4Box.write("minf", into: &mdia) { minf in
                    if track.isVideo {
                        MP4Box.writeFull("vmhd", version: 0, flags: 1, into: &minf) { MP4Box.writeZeros(8, into: &$0) }
                    } else {
                        MP4Box.writeFull("smhd", version: 0, flags: 0, into: &minf) { $0.writeInteger(UInt32(0)) }
                    }
                    MP4Box.write("dinf", into: &minf) { dinf in
                        MP4Box.writeFull("dref", version: 0, flags: 0, into: &dinf) { dref in
                            dref.writeInteger(UInt32(1))
                            MP4Box.writeFull("url ", version: 0, flags: 1, into: &dref) { _ in }  // media in this file
                        }
                    }
                    writeSampleTable(track, into: &minf)
                }
            }
        }
    }

    /// The sample table: the sample entry; no samples (they are in the fragments).
    private static func writeSampleTable(_ track: MP4Track, into buffer: inout ByteBuffer) {
        MP4Box.write("stbl", into: &buffer) { stbl in
            MP4Box.writeFull("stsd", version: 0, flags: 0, into: &stbl) {
                $0.writeInteger(UInt32(1))
                MP4SampleEntry.write(track.entry, into: &$0)
            }
            MP4Box.writeFull("stts", version: 0, flags: 0, into: &stbl) { $0.writeInteger(UInt32(0)) }
            MP4Box.writeFull("stsc", version: 0, flags: 0, into: &stbl) { $0.writeInteger(UInt32(0)) }
            MP4Box.writeFull("stsz", version: 0, flags: 0, into: &stbl) { $0.writeMultipleIntegers(UInt32(0), UInt32(0)) }
            MP4Box.writeFull("stco", version: 0, flags: 0, into: &stbl) { $0.writeInteger(UInt32(0)) }
        }
    }
}

extension MP4Track {
    /// Width and height of a video track (0 for audio), at most 0xFFFF.
    var presentationSize: (width: Int, height: Int) {
        switch entry {
        case .avc(_, let width, let height), .hevc(_, let width, let height): return (width, height)
        case .aac: return (0, 0)
        }
    }
}
