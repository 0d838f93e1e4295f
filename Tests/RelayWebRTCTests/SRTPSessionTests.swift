import NIOCore
import Testing
@testable import RelayWebRTC

@Suite struct SRTPSessionTests {
    /// Sender and receiver of one direction: the sender's local keys are the receiver's remote ones.
    private static func sessions() throws -> (sender: SRTPSession, receiver: SRTPSession) {
        let a = (0..<30).map { _ in UInt8.random(in: 0...255) }
        let b = (0..<30).map { _ in UInt8.random(in: 0...255) }
        return (try SRTPSession(keys: SRTPKeys(profile: .aes128CmSha1_80, local: a, remote: b)),
                try SRTPSession(keys: SRTPKeys(profile: .aes128CmSha1_80, local: b, remote: a)))
    }

    private static func rtp(sequence: UInt16, ssrc: UInt32 = 0x1234_5678, payload: Int = 1188) -> ByteBuffer {
        var packet = ByteBuffer()
        packet.writeBytes([0x80, 96])
        packet.writeInteger(sequence)
        packet.writeInteger(UInt32(sequence) &* 3000)
        packet.writeInteger(ssrc)
        packet.writeBytes((0..<payload).map { UInt8(truncatingIfNeeded: $0 &+ Int(sequence)) })
        return packet
    }

    /// A sender report: header, sender SSRC, NTP, RTP time, counts.
    private static func senderReport(ssrc: UInt32 = 0x1234_5678) -> ByteBuffer {
        var packet = ByteBuffer()
        packet.writeBytes([0x80, 200, 0, 6])
        packet.writeInteger(ssrc)
        for word in [UInt32(0xE000_0000), 0x1000, 90_000, 10, 12_000] { packet.writeInteger(word) }
        return packet
    }

    @Test func rtpRoundTrip() throws {
        let (sender, receiver) = try Self.sessions()
        for sequence: UInt16 in [65_530, 65_535, 0, 1] {
            let plain = Self.rtp(sequence: sequence)
            var packet = plain
            #expect(sender.protectRTP(&packet))
            #expect(packet.readableBytes == plain.readableBytes + 10)
            #expect(packet.getSlice(at: packet.readerIndex, length: 12) == plain.getSlice(at: plain.readerIndex, length: 12))
            #expect(packet.getSlice(at: packet.readerIndex + 12, length: 100) != plain.getSlice(at: plain.readerIndex + 12, length: 100))
            #expect(receiver.unprotectRTP(&packet))
            #expect(packet == plain)
        }
    }

    @Test func rtcpRoundTrip() throws {
        let (sender, receiver) = try Self.sessions()
        for _ in 0..<3 {
            let plain = Self.senderReport()
            var packet = plain
            #expect(sender.protectRTCP(&packet))
            #expect(packet.readableBytes == plain.readableBytes + 14)
            #expect(receiver.unprotectRTCP(&packet))
            #expect(packet == plain)
        }
    }

    @Test func protectKeepsSharedAndSlicedBuffersIntact() throws {
        let (sender, receiver) = try Self.sessions()
        // A slice has no room past its bytes; a shared buffer must not be changed under its other owner.
        var whole = Self.rtp(sequence: 7)
        whole.writeBytes([1, 2, 3])
        let plain = try #require(whole.getSlice(at: 0, length: whole.readableBytes - 3))
        let sliceLength = whole.readableBytes - 3
        var slice = whole.readSlice(length: sliceLength) ?? ByteBuffer()
        let before = whole
        #expect(sender.protectRTP(&slice))
        #expect(whole == before)
        #expect(receiver.unprotectRTP(&slice))
        #expect(slice == plain)
        #expect(plain == Self.rtp(sequence: 7))

        var original = Self.rtp(sequence: 8)
        original.reserveCapacity(minimumWritableBytes: SRTPSession.maxOverhead)
        let copy = original
        #expect(sender.protectRTP(&original))
        #expect(copy == Self.rtp(sequence: 8))
    }

    @Test func tamperedPacketsFail() throws {
        let (sender, receiver) = try Self.sessions()
        var packet = Self.rtp(sequence: 1)
        #expect(sender.protectRTP(&packet))
        for offset in [2, 20, packet.readableBytes - 1] {
            var tampered = packet
            tampered.setInteger((tampered.getInteger(at: offset, as: UInt8.self) ?? 0) ^ 0x01, at: offset)
            #expect(!receiver.unprotectRTP(&tampered))
        }
        var rtcp = Self.senderReport()
        #expect(sender.protectRTCP(&rtcp))
        rtcp.setInteger((rtcp.getInteger(at: 10, as: UInt8.self) ?? 0) ^ 0x80, at: 10)
        #expect(!receiver.unprotectRTCP(&rtcp))
        // The untampered packet still passes.
        #expect(receiver.unprotectRTP(&packet))
    }

    @Test func replaysFail() throws {
        let (sender, receiver) = try Self.sessions()
        var packet = Self.rtp(sequence: 100)
        #expect(sender.protectRTP(&packet))
        var replay = packet
        #expect(receiver.unprotectRTP(&packet))
        #expect(!receiver.unprotectRTP(&replay))

        var rtcp = Self.senderReport()
        #expect(sender.protectRTCP(&rtcp))
        var rtcpReplay = rtcp
        #expect(receiver.unprotectRTCP(&rtcp))
        #expect(!receiver.unprotectRTCP(&rtcpReplay))
    }

    @Test func retransmissionOfASequenceNumberIsProtectedAgain() throws {
        let (sender, receiver) = try Self.sessions()
        var lost = Self.rtp(sequence: 5)
        #expect(sender.protectRTP(&lost))
        var next = Self.rtp(sequence: 6)
        #expect(sender.protectRTP(&next))
        #expect(receiver.unprotectRTP(&next))
        // NACK: sequence 5 is sent again; the receiver never had it, so it takes it.
        var resent = Self.rtp(sequence: 5)
        #expect(sender.protectRTP(&resent))
        #expect(resent == lost)
        #expect(receiver.unprotectRTP(&resent))
        #expect(resent == Self.rtp(sequence: 5))
    }

    @Test func inboundStreamsAreBounded() throws {
        let (sender, receiver) = try Self.sessions()
        var accepted = 0
        for ssrc in UInt32(1)...UInt32(SRTPSession.maxInboundStreams + 8) {
            var packet = Self.rtp(sequence: 1, ssrc: ssrc, payload: 20)
            #expect(sender.protectRTP(&packet))
            if receiver.unprotectRTP(&packet) { accepted += 1 }
        }
        #expect(accepted == SRTPSession.maxInboundStreams)
        var known = Self.rtp(sequence: 2, ssrc: 1, payload: 20)
        #expect(sender.protectRTP(&known))
        #expect(receiver.unprotectRTP(&known))
    }

    @Test func garbageAndBadInputFail() throws {
        let (sender, receiver) = try Self.sessions()
        for length in [0, 5, 11, 21, 40, 1500, 70_000] {
            var bytes = ByteBuffer(bytes: (0..<length).map { _ in UInt8.random(in: 0...255) })
            #expect(!receiver.unprotectRTP(&bytes))
            var rtcp = bytes
            #expect(!receiver.unprotectRTCP(&rtcp))
        }
        var short = ByteBuffer(bytes: [0x80, 96, 0])
        #expect(!sender.protectRTP(&short))
        #expect(throws: SRTPError.self) {
            _ = try SRTPSession(keys: SRTPKeys(profile: .aes128CmSha1_80, local: [1, 2], remote: [3]))
        }
        #expect(throws: SRTPError.self) {
            let key = [UInt8](repeating: 1, count: 30)
            _ = try SRTPSession(keys: SRTPKeys(profile: .aes128CmSha1_80, local: key, remote: key), replayWindow: 10)
        }
    }
}
