import Foundation
import NIOCore
import RelayCore
import RelayRTP
import RelayTestSupport

/// Real access units for the RTP round trips: encoded by ffmpeg when it is installed (x264,
/// x265, AAC from lavfi test sources), else synthetic units of the same shapes (parameter sets,
/// a key frame bigger than the MTU, several slices, small frames), so the tests always run.
enum MediaFixtures {
    /// H.264 access units as NAL unit lists (delimiters removed: the packetizer drops them).
    static let h264: [[[UInt8]]] = (try? encodedVideo(hevc: false)) ?? syntheticVideo(hevc: false)
    static let h265: [[[UInt8]]] = (try? encodedVideo(hevc: true)) ?? syntheticVideo(hevc: true)
    /// Raw AAC access units (ADTS headers removed).
    static let aac: [[UInt8]] = (try? encodedAAC()) ?? (0..<40).map { pattern(150 + $0 * 37 % 500, seed: UInt8($0)) }

    static func encodedVideo(hevc: Bool) throws -> [[[UInt8]]] {
        let codec = hevc ? ["-c:v", "libx265", "-x265-params", "keyint=12:log-level=error", "-bsf:v", "hevc_metadata=aud=insert", "-f", "hevc"]
                         : ["-c:v", "libx264", "-g", "12", "-bsf:v", "h264_metadata=aud=insert", "-f", "h264"]
        let bytes = try FFmpeg.make(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "1", "-pix_fmt", "yuv420p"] + codec,
                                    suffix: hevc ? "h265" : "h264")
        let units = splitAtDelimiters(AnnexB.split(ByteBuffer(bytes: bytes)).map { Array($0.readableBytesView) }, hevc: hevc)
        guard units.count >= 10 else { throw FFmpeg.Failed(description: "only \(units.count) access units") }
        return units
    }

    static func splitAtDelimiters(_ nals: [[UInt8]], hevc: Bool) -> [[[UInt8]]] {
        var units: [[[UInt8]]] = []
        for nal in nals {
            guard let b0 = nal.first else { continue }
            let isAUD = hevc ? (b0 >> 1) & 0x3F == 35 : b0 & 0x1F == 9
            if isAUD { units.append([]) } else if !units.isEmpty { units[units.count - 1].append(nal) }
        }
        return units.filter { !$0.isEmpty }
    }

    static func syntheticVideo(hevc: Bool) -> [[[UInt8]]] {
        // (NAL header, first payload byte with the "first slice" bit set)
        let sets: [[UInt8]] = hevc ? [[0x40, 0x01, 0x0C, 0x01], [0x42, 0x01, 0x01, 0x60], [0x44, 0x01, 0xC1, 0x72]]
                                   : [[0x67, 0x42, 0xC0, 0x1F, 0xDA], [0x68, 0xCE, 0x0F, 0xC8]]
        let key: [UInt8] = hevc ? [0x26, 0x01, 0x80] : [0x65, 0x88]
        let slice: [UInt8] = hevc ? [0x02, 0x01, 0x80] : [0x41, 0x9A]
        let secondSlice: [UInt8] = hevc ? [0x02, 0x01, 0x40] : [0x41, 0x40]
        var units: [[[UInt8]]] = []
        for i in 0..<24 {
            if i % 12 == 0 {
                units.append(sets + [key + pattern(20_000 + i, seed: UInt8(i))])
            } else if i % 5 == 0 {
                units.append([slice + pattern(1200, seed: UInt8(i)), secondSlice + pattern(3000, seed: 9)])
            } else {
                units.append([slice + pattern(40 + i * 97, seed: UInt8(i))])
            }
        }
        return units
    }

    static func encodedAAC() throws -> [[UInt8]] {
        let adts = try FFmpeg.make(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "1",
                                    "-c:a", "aac", "-b:a", "128k", "-f", "adts"], suffix: "aac")
        var units: [[UInt8]] = []
        var i = 0
        while i + 7 <= adts.count, adts[i] == 0xFF, adts[i + 1] & 0xF0 == 0xF0 {
            let header = adts[i + 1] & 1 == 1 ? 7 : 9
            let length = Int(adts[i + 3] & 3) << 11 | Int(adts[i + 4]) << 3 | Int(adts[i + 5] >> 5)
            guard length > header, i + length <= adts.count else { break }
            units.append(Array(adts[(i + header)..<(i + length)]))
            i += length
        }
        guard units.count >= 10 else { throw FFmpeg.Failed(description: "only \(units.count) AAC frames") }
        return units
    }
}
