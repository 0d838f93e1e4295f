import NIOCore
import RelayCore
import Testing
@testable import RelayFLV
import RelayTestSupport

private let buf = hexBuffer

@Suite struct FLVAudioTests {
    @Test func aac() throws {
        #expect(try FLVAudio.parse(buf("af00121056e500")) == .aacSequenceHeader(buf("121056e500")))
        #expect(try FLVAudio.parse(buf("af01 214c6cfe")) == .frame(.aac, data: buf("214c6cfe"), sampleRate: 44100, channels: 2))
    }

    @Test func g711() throws {
        // ffmpeg writes 0x72 (A-law, rate bits 0, 16-bit, mono); the rate is 8 kHz whatever the bits say.
        #expect(try FLVAudio.parse(buf("72 d5d5")) == .frame(.g711a, data: buf("d5d5"), sampleRate: 8000, channels: 1))
        #expect(try FLVAudio.parse(buf("7f d5d5")) == .frame(.g711a, data: buf("d5d5"), sampleRate: 8000, channels: 2))
        #expect(try FLVAudio.parse(buf("82 ffff")) == .frame(.g711u, data: buf("ffff"), sampleRate: 8000, channels: 1))
        #expect(try FLVAudio.parse(buf("87 ffff")) == .frame(.g711u, data: buf("ffff"), sampleRate: 8000, channels: 2))
    }

    @Test func mp3RateBits() throws {
        let cases: [(String, Int, Int)] = [("2f", 44100, 2), ("2a", 22050, 1), ("27", 11025, 2), ("22", 5512, 1), ("e2", 8000, 1)]
        for (flags, rate, channels) in cases {
            #expect(try FLVAudio.parse(buf(flags + "fffb")) == .frame(.mp3, data: buf("fffb"), sampleRate: rate, channels: channels))
        }
    }

    @Test func otherFormatsAreIgnored() throws {
        for hex in ["62 00", "b2 00", "32 00", "90 4f707573", "f2 00"] {  // Nellymoser, Speex, PCM LE, ExHeader, device
            guard case .ignored = try FLVAudio.parse(buf(hex)) else {
                Issue.record("\(hex) should be ignored")
                continue
            }
        }
    }

    @Test func malformedBodiesThrow() {
        for hex in ["", "af", "af02 00", "af00", "af00 12", "72", "2f"] {
            #expect(throws: FLVError.self, "\(hex)") { try FLVAudio.parse(buf(hex)) }
        }
    }

    @Test func writeHeaderBytes() {
        func header(_ codec: CodecID, _ rate: Int, _ channels: Int, seq: Bool = false) -> ByteBuffer {
            var out = ByteBuffer()
            FLVAudio.writeHeader(codec: codec, audio: AudioParameters(sampleRate: rate, channels: channels),
                                 isSequenceHeader: seq, into: &out)
            #expect(out.readableBytes == FLVAudio.headerSize(codec: codec))
            return out
        }
        #expect(header(.aac, 48000, 1, seq: true) == buf("af00"))
        #expect(header(.aac, 48000, 1) == buf("af01"))
        #expect(header(.g711a, 8000, 1) == buf("72"))
        #expect(header(.g711a, 8000, 2) == buf("73"))
        #expect(header(.g711u, 8000, 1) == buf("82"))
        #expect(header(.mp3, 44100, 2) == buf("2f"))
        #expect(header(.mp3, 48000, 2) == buf("2f"))
        #expect(header(.mp3, 22050, 1) == buf("2a"))
        #expect(header(.mp3, 8000, 1) == buf("e2"))
        #expect(header(.opus, 48000, 2) == ByteBuffer())  // FLV cannot carry it: nothing written
        #expect(!FLVAudio.supports(.opus) && FLVAudio.supports(.g711u))
    }

    @Test func writeHeaderParsesBack() throws {
        let cases: [(CodecID, Int, Int)] = [(.g711a, 8000, 1), (.g711a, 8000, 2), (.g711u, 8000, 1),
                                            (.mp3, 44100, 2), (.mp3, 11025, 1), (.mp3, 8000, 2)]
        for (codec, rate, channels) in cases {
            var body = ByteBuffer()
            FLVAudio.writeHeader(codec: codec, audio: AudioParameters(sampleRate: rate, channels: channels),
                                 isSequenceHeader: false, into: &body)
            body.writeBytes([1, 2, 3])
            #expect(try FLVAudio.parse(body) == .frame(codec, data: buf("010203"), sampleRate: rate, channels: channels))
        }
        var seq = ByteBuffer()
        FLVAudio.writeHeader(codec: .aac, audio: AudioParameters(sampleRate: 44100, channels: 2, objectType: 2),
                             isSequenceHeader: true, into: &seq)
        seq.writeBytes([0x12, 0x10])
        #expect(try FLVAudio.parse(seq) == .aacSequenceHeader(buf("1210")))
    }
}
