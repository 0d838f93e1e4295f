import NIOCore
import Testing
@testable import RelayMP4

@Suite struct MP4BoxTests {
    @Test func nestedBoxesCarryTheirSizes() {
        var buffer = ByteBuffer()
        MP4Box.write("moov", into: &buffer) { moov in
            MP4Box.writeFull("mvhd", version: 1, flags: 0x000102, into: &moov) { $0.writeInteger(UInt32(7)) }
        }
        #expect(Array(buffer.readableBytesView) == [
            0, 0, 0, 24, 0x6D, 0x6F, 0x6F, 0x76,
            0, 0, 0, 16, 0x6D, 0x76, 0x68, 0x64, 1, 0, 1, 2, 0, 0, 0, 7,
        ])
    }
}
