import NIOCore
import RelayTestSupport
import Testing
@testable import RelayCore

private let buf = hexBuffer

@Suite struct AACTests {
    @Test func lc44100Stereo() throws {
        let asc = try AAC.AudioSpecificConfig(parsing: buf("1210"))
        #expect(asc == AAC.AudioSpecificConfig(objectType: 2, sampleRate: 44100, channelConfiguration: 2))
        #expect(asc.frequencyIndex == 4)
        #expect(asc.parameters == AudioParameters(sampleRate: 44100, channels: 2, objectType: 2))
        #expect(try AAC.lcConfig(sampleRate: 44100, channels: 2) == buf("1210"))
    }

    @Test func ffmpegConfigWithSyncExtension() throws {
        // ffmpeg's FLV sequence header: LC 44.1 kHz stereo + the 0x2B7 backward-compatible SBR signal.
        let asc = try AAC.AudioSpecificConfig(parsing: buf(String(CodecFixtures.flvAACSequenceTag.dropFirst(4))))
        #expect(asc.parameters == AudioParameters(sampleRate: 44100, channels: 2, objectType: 2))
    }

    @Test func lc48000Mono() throws {
        #expect(try AAC.lcConfig(sampleRate: 48000, channels: 1) == buf("1188"))
        let asc = try AAC.AudioSpecificConfig(parsing: buf("1188"))
        #expect(asc.parameters == AudioParameters(sampleRate: 48000, channels: 1, objectType: 2))
    }

    @Test func explicitFrequency() throws {
        // AOT 2, index 0xF, 24-bit rate 22000, channels 2.
        let asc = try AAC.AudioSpecificConfig(parsing: buf("17802af810"))
        #expect(asc.frequencyIndex == nil)
        #expect(asc.sampleRate == 22000)
        #expect(asc.channels == 2)
        #expect(asc.encoded() == buf("17802af810"))
        #expect(try AAC.lcConfig(sampleRate: 22000, channels: 2) == buf("17802af810"))
    }

    @Test func escapedObjectType() throws {
        // AOT 31 escape + 6 bits (10) = 42 (USAC), 48 kHz, stereo.
        let asc = try AAC.AudioSpecificConfig(parsing: buf("f94640"))
        #expect(asc.objectType == 42)
        #expect(asc.sampleRate == 48000)
        #expect(asc.channels == 2)
        #expect(try AAC.AudioSpecificConfig(parsing: asc.encoded()) == asc)
    }

    @Test func explicitSBRReportsCoreCoder() throws {
        // AOT 5 (SBR), core 24 kHz stereo, extension 48 kHz, core AOT 2.
        var coreWithSBR = AAC.AudioSpecificConfig(objectType: 2, sampleRate: 24000, channelConfiguration: 2)
        coreWithSBR.extensionSampleRate = 48000
        #expect(try AAC.AudioSpecificConfig(parsing: buf("2b1188")) == coreWithSBR)
    }

    @Test func channelConfigurations() throws {
        for (channels, config) in [(1, 1), (2, 2), (3, 3), (6, 6), (8, 7)] {
            let asc = try AAC.AudioSpecificConfig(parsing: AAC.lcConfig(sampleRate: 32000, channels: channels))
            #expect(asc.channelConfiguration == config)
            #expect(asc.channels == channels)
        }
        #expect(throws: CodecError.self) { try AAC.lcConfig(sampleRate: 44100, channels: 7) }
        #expect(throws: CodecError.self) { try AAC.lcConfig(sampleRate: 0, channels: 2) }
    }

    @Test func malformedConfigsThrow() {
        #expect(throws: CodecError.self) { try AAC.AudioSpecificConfig(parsing: ByteBuffer()) }
        #expect(throws: CodecError.self) { try AAC.AudioSpecificConfig(parsing: buf("12")) }
        #expect(throws: CodecError.self) { try AAC.AudioSpecificConfig(parsing: buf("0210")) }  // AOT 0
        #expect(throws: CodecError.self) { try AAC.AudioSpecificConfig(parsing: buf("1690")) }  // index 13
        #expect(throws: CodecError.self) { try AAC.AudioSpecificConfig(parsing: buf("1780")) }  // explicit rate cut off
        #expect(throws: CodecError.self) { try AAC.AudioSpecificConfig(parsing: buf("f9")) }
    }

    @Test func adtsBuildParseRoundTrip() throws {
        let config = try AAC.AudioSpecificConfig(parsing: buf("1210"))
        let header = try AAC.ADTSHeader(config: config, payloadLength: 100)
        var out = ByteBuffer()
        header.write(into: &out)
        #expect(out == buf("fff15080 0d7ffc"))
        let parsed = try AAC.ADTSHeader(parsing: out)
        #expect(parsed == header)
        #expect(parsed.headerLength == 7 && parsed.payloadLength == 100 && parsed.frameLength == 107)
        #expect(parsed.config == config)

        for channels in [1, 2, 6] {
            for rate in [8000, 22050, 48000, 96000] {
                let c = try AAC.AudioSpecificConfig(parsing: AAC.lcConfig(sampleRate: rate, channels: channels))
                var b = ByteBuffer()
                try AAC.ADTSHeader(config: c, payloadLength: 8184).write(into: &b)
                let back = try AAC.ADTSHeader(parsing: b)
                #expect(back.config == c && back.payloadLength == 8184)
            }
        }
    }

    @Test func parsesFFmpegADTS() throws {
        // First header of `ffmpeg -f lavfi -i sine=sample_rate=48000 -ac 1 -c:a aac -f adts`.
        let header = try AAC.ADTSHeader(parsing: buf("fff14c401b7ffc"))
        #expect(header.config.parameters == AudioParameters(sampleRate: 48000, channels: 1, objectType: 2))
        #expect(header.protectionAbsent)
        #expect(header.frameLength == 219)
    }

    @Test func adtsWithCRC() throws {
        // protection_absent 0: 9-byte header (2-byte CRC), frame length 109 → 100-byte payload.
        let header = try AAC.ADTSHeader(parsing: buf("fff05080 0dbffc abcd"))
        #expect(!header.protectionAbsent)
        #expect(header.headerLength == 9)
        #expect(header.payloadLength == 100)
        #expect(throws: CodecError.self) { try AAC.ADTSHeader(parsing: buf("fff05080 0dbffc ab")) }
        #expect(throws: CodecError.self) { try AAC.ADTSHeader(parsing: buf("fff05080 011ffc abcd")) }  // length 8 < 9
    }

    @Test func malformedADTSThrows() {
        #expect(throws: CodecError.self) { try AAC.ADTSHeader(parsing: buf("fff15080 0d7f")) }  // 6 bytes
        #expect(throws: CodecError.self) { try AAC.ADTSHeader(parsing: buf("ffe15080 0d7ffc")) }  // syncword
        #expect(throws: CodecError.self) { try AAC.ADTSHeader(parsing: buf("fff35080 0d7ffc")) }  // layer 1
        #expect(throws: CodecError.self) { try AAC.ADTSHeader(parsing: buf("fff17480 0d7ffc")) }  // frequency index 13
    }

    @Test func adtsBuildRejectsWhatADTSCannotSay() throws {
        let explicit = try AAC.AudioSpecificConfig(parsing: buf("17802af810"))
        #expect(throws: CodecError.self) { try AAC.ADTSHeader(config: explicit, payloadLength: 10) }
        let usac = try AAC.AudioSpecificConfig(parsing: buf("f94640"))
        #expect(throws: CodecError.self) { try AAC.ADTSHeader(config: usac, payloadLength: 10) }
        let lc = try AAC.AudioSpecificConfig(parsing: buf("1210"))
        #expect(throws: CodecError.self) { try AAC.ADTSHeader(config: lc, payloadLength: 8185) }
    }

    @Test func streamConvenience() throws {
        let s = try AVStream.aac(index: 1, timebase: 1000, asc: buf("1210"))
        #expect(s.codec == .aac && s.extradata == buf("1210"))
        #expect(s.audio == AudioParameters(sampleRate: 44100, channels: 2, objectType: 2))
        let built = try AVStream.aac(index: 1, timebase: 48000, sampleRate: 48000, channels: 1)
        #expect(built.extradata == buf("1188"))
        #expect(throws: CodecError.self) { try AVStream.aac(index: 1, timebase: 1000, asc: buf("00")) }
    }
}
