import Foundation
import NIOCore
import Testing
@testable import RelayFLV

@Suite struct RecordPathTests {
    @Test func streamIDsBecomeSafeRelativeDirectories() {
        #expect(RecordPath.relativeDirectory(for: "live/cam1") == "live/cam1")
        #expect(RecordPath.relativeDirectory(for: "../../etc/passwd") == "_./_./etc/passwd")
        #expect(RecordPath.relativeDirectory(for: "a/./b") == "a/_/b")
        #expect(RecordPath.relativeDirectory(for: "/abs//x/") == "abs/x")
        #expect(RecordPath.relativeDirectory(for: ".hidden/x y?*") == "_hidden/x_y__")
        #expect(RecordPath.relativeDirectory(for: "直播/a") == "__/a")
        #expect(RecordPath.relativeDirectory(for: "") == "_")
        #expect(RecordPath.relativeDirectory(for: "///") == "_")
        #expect(RecordPath.relativeDirectory(for: String(repeating: "a/", count: 20)).split(separator: "/").count == 8)
        #expect(RecordPath.relativeDirectory(for: String(repeating: "x", count: 300)).count == 100)
    }

    @Test func filesNeverLeaveTheRecordDirectory() throws {
        for stream in ["live/a", "../../../../tmp/x", "..", ".", "a/../../b", "%2e%2e/x", "a\\..\\b", "~/x"] {
            let file = try #require(RecordPath.file(dir: "/srv/rec", stream: stream, name: "x.flv"), "\(stream)")
            #expect(file.path.hasPrefix("/srv/rec/"), "\(stream) → \(file.path)")
            #expect(!file.relative.hasPrefix("/") && !file.relative.split(separator: "/").contains { $0 == ".." || $0 == "." }, "\(stream) → \(file.relative)")
            #expect(file.path == "/srv/rec/" + file.relative)
        }
        #expect(RecordPath.file(dir: "/srv/rec", stream: "a", name: "../x.flv") == nil)
        #expect(RecordPath.file(dir: "/srv/rec", stream: "a", name: "..") == nil)
        #expect(RecordPath.file(dir: "/srv/./rec/../rec2", stream: "a", name: "x.flv")?.path == "/srv/rec2/a/x.flv")
    }

    @Test func relativeDirIsResolvedAgainstTheWorkingDirectory() {
        #expect(RecordPath.absoluteDirectory("recordings", cwd: "/opt/relay") == "/opt/relay/recordings")
        #expect(RecordPath.absoluteDirectory("../rec", cwd: "/opt/relay") == "/opt/rec")
        #expect(RecordPath.absoluteDirectory("/var/rec/", cwd: "/opt/relay") == "/var/rec")
    }

    @Test func fileNamesAreUTCStartTimes() {
        let date = Date(timeIntervalSince1970: 1_735_787_045.678)  // 2025-01-02 03:04:05.678 UTC
        #expect(RecordPath.fileName(start: date) == "20250102-030405-678.flv")
        #expect(RecordPath.fileName(start: date, sequence: 2) == "20250102-030405-678-2.flv")
        #expect(RecordPath.iso8601(date) == "2025-01-02T03:04:05.678Z")
    }

    @Test func theMetadataDurationIsFoundAndSequenceHeadersRecognized() {
        var header = ByteBuffer()
        FLVFileHeader.write(hasAudio: true, hasVideo: true, into: &header)
        FLVMuxer.writeTag(type: FLVTagType.script, timestamp: 0, into: &header) {
            FLVMetadata.write(streams: [], hevcMode: .enhanced, into: &$0)
        }
        let offset = FLVRecordingSink.durationOffset(in: header)
        #expect(offset != nil)
        if let offset { #expect(header.getInteger(at: offset, as: UInt64.self) == 0) }

        var tags = ByteBuffer()
        FLVMuxer.writeTag(type: FLVTagType.video, timestamp: 0, into: &tags) { $0.writeBytes([0x17, 0x00, 0, 0, 0]) }
        FLVMuxer.writeTag(type: FLVTagType.video, timestamp: 0x0102_0304, into: &tags) { $0.writeBytes([0x17, 0x01, 0, 0, 0]) }
        #expect(FLVRecordingSink.isSequenceHeader(tags, tagAt: 0, type: FLVTagType.video, size: 5))
        #expect(!FLVRecordingSink.isSequenceHeader(tags, tagAt: 20, type: FLVTagType.video, size: 5))
        #expect(FLVRecordingSink.firstTimestamp(tags) == 0x0102_0304, "skips the sequence header, reads the extended byte")
    }
}
