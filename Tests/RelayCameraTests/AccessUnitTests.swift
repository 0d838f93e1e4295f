import Foundation
import NIOCore
import RelayCamera
import RelayCore
import Testing

@Suite(.serialized)
struct AccessUnitTests {
    /// Reads every access unit of `path` with reads of `readSize` bytes.
    static func units(_ path: String, codec: CodecID, readSize: Int = 1 << 20) throws -> [AccessUnit] {
        let reader = try AnnexBReader(path: path, codec: codec, readSize: readSize)
        var out: [AccessUnit] = []
        while let unit = try reader.next() { out.append(unit) }
        return out
    }

    static func types(_ unit: AccessUnit) -> [UInt8] {
        unit.nals.map { nal in
            let h = nal.getInteger(at: nal.readerIndex, as: UInt8.self)!
            return unit.codec == .h265 ? (h >> 1) & 0x3F : h & 0x1F
        }
    }

    @Test(arguments: [(false, 1), (true, 1), (false, 4), (true, 3)])
    func h264ClipSplitsIntoOneUnitPerPicture(aud: Bool, slices: Int) throws {
        let path = try Clips.h264(frames: 30, gop: 10, slices: slices, aud: aud)
        let units = try Self.units(path, codec: .h264)
        #expect(units.count == 30)
        #expect(units.filter(\.isKeyFrame).count == 3)
        #expect(units.enumerated().allSatisfy { $0.element.isKeyFrame == ($0.offset % 10 == 0) })
        for unit in units {
            let types = Self.types(unit)
            // Every picture has all its slices, and SPS/PPS/SEI go with the picture after them.
            #expect(types.filter { $0 == 1 || $0 == 5 }.count == slices, "\(types)")
            let firstVCL = types.firstIndex { $0 == 1 || $0 == 5 }!
            #expect(types[firstVCL...].allSatisfy { $0 == 1 || $0 == 5 }, "\(types)")
            if aud { #expect(types.first == 9) }
            if unit.isKeyFrame { #expect(types.contains(7) && types.contains(8), "\(types)") }
        }
        // The bytes are all there: units + start codes add up to the file (minus nothing lost).
        let payload = units.reduce(0) { $0 + $1.byteCount }
        let nalCount = units.reduce(0) { $0 + $1.nals.count }
        let fileSize = try Clips.bytes(path).count
        #expect(payload + 3 * nalCount <= fileSize && fileSize <= payload + 4 * nalCount)
    }

    @Test(arguments: [7, 100, 4096])
    func splittingDoesNotDependOnReadSize(readSize: Int) throws {
        let path = try Clips.h264(frames: 30, gop: 10, slices: 4, aud: false)
        let whole = try Self.units(path, codec: .h264)
        let pieces = try Self.units(path, codec: .h264, readSize: readSize)
        #expect(pieces.count == whole.count)
        for (a, b) in zip(whole, pieces) {
            #expect(a.nals == b.nals)
        }
    }

    @Test func h265ClipSplitsIntoOneUnitPerPicture() throws {
        let path = try Clips.h265(frames: 20, gop: 10)
        let units = try Self.units(path, codec: .h265)
        #expect(units.count == 20)
        #expect(units.filter(\.isKeyFrame).count == 2)
        for unit in units {
            let types = Self.types(unit)
            #expect(types.filter { $0 < 32 }.count == 1, "\(types)")
            if unit.isKeyFrame { #expect([32, 33, 34].allSatisfy(types.contains), "\(types)") }
        }
        var builder = VideoTrackBuilder(codec: .h265)
        let track = try #require(try builder.update(with: units[0]))
        #expect(track.stream.video?.width == 320 && track.stream.video?.height == 240)
        // Repeated identical parameter sets keep the same configuration generation.
        #expect(try builder.update(with: units[10])?.generation == track.generation)
    }

    /// A hand-made stream: picture 1 = SPS PPS SEI IDR(first) IDR(not first); picture 2 = SEI
    /// P(first) P(not first) suffix-less; picture 3 = P(first) EOS. No AUDs.
    @Test func boundariesOfAHandMadeStream() throws {
        let sc: [UInt8] = [0, 0, 0, 1]
        let stream: [UInt8] = sc + [0x67, 0x42, 0x00] + sc + [0x68, 0xCE] + sc + [0x06, 0x05, 0x01, 0x80]
            + sc + [0x65, 0x88, 0x11] + sc + [0x65, 0x40, 0x22]           // IDR first_mb 0, then first_mb != 0
            + sc + [0x06, 0x05, 0x01, 0x80] + sc + [0x41, 0x9A, 0x01] + [0, 0, 1] + [0x41, 0x20, 0x02]
            + sc + [0x41, 0x9A, 0x03] + sc + [0x0A]
        var scanner = AnnexBScanner()
        var assembler = AccessUnitSplitter(codec: .h264)
        var units: [AccessUnit] = []
        for byte in stream {  // one byte at a time: start codes split across appends
            scanner.append(ByteBuffer(bytes: [byte]))
            while let nal = scanner.next() { if let u = assembler.push(nal) { units.append(u) } }
        }
        if let nal = scanner.finish(), let u = assembler.push(nal) { units.append(u) }
        if let u = assembler.flush() { units.append(u) }
        #expect(units.map(Self.types) == [[7, 8, 6, 5, 5], [6, 1, 1], [1, 10]])
        #expect(units.map(\.isKeyFrame) == [true, false, false])
    }

    @Test func lengthPrefixedFormDropsDelimitersAndKeepsTheRest() throws {
        let path = try Clips.h264(frames: 5, gop: 5, aud: true)
        let unit = try #require(try Self.units(path, codec: .h264).first)
        let avcc = unit.lengthPrefixed()
        let nals = try AnnexB.nalUnits(lengthPrefixed: avcc)
        #expect(nals == unit.nals.filter { $0.getInteger(at: $0.readerIndex, as: UInt8.self)! & 0x1F != 9 })
    }

    @Test func loopingRewindsTheFile() throws {
        let path = try Clips.h264(frames: 5, gop: 5)
        let reader = try AnnexBReader(path: path, codec: .h264)
        #expect(reader.canRewind)
        var first: [AccessUnit] = []
        while let u = try reader.next() { first.append(u) }
        try reader.rewind()
        var second: [AccessUnit] = []
        while let u = try reader.next() { second.append(u) }
        #expect(first.count == 5 && second.count == 5)
        #expect(first.map(\.nals) == second.map(\.nals))
    }
}
