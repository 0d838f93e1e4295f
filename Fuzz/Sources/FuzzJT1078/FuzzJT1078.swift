import FuzzSupport
import NIOCore
import NIOEmbedded
import RelayCore
import RelayJT1078

/// JT/T 1078 over TCP as JT1078Server sets it up: JT1078FrameDecoder in a ByteToMessageHandler
/// with its maximumBufferSize (layout detected; first byte 1/2 pins 2016/2019), then per stream
/// the reassemblers (video / audio) and the stream demuxer, as JT1078ConnectionHandler does. The
/// second byte picks the terminal-audio settings (G.726 packing and rate, ADPCM nibble order), so
/// G.726 (PT 8) and IMA ADPCM (PT 26) frames run through every transcoding path.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        let pinned: JT1078Version? = switch (input.first ?? 0) % 4 {
        case 1: .v2016
        case 2: .v2019
        default: nil
        }
        let maxFrame = 256 << 10
        let knobs = input.dropFirst().first ?? 0
        let rates: [Int?] = [nil, 16000, 24000, 32000, 40000]
        let orders: [IMAADPCMDecoder.NibbleOrder?] = [nil, .lowFirst, .highFirst]
        let audio = JT1078AudioSettings(g726Packing: knobs & 1 == 0 ? .le : .be, g726BitRate: rates[Int(knobs >> 1) % rates.count],
                                        adpcmNibbles: orders[Int(knobs >> 4) % orders.count])
        let decoder = JT1078FrameDecoder(version: pinned, maxGarbageBytes: 16 << 10)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(decoder, maximumBufferSize: decoder.maximumBufferSize))
        struct Stream {
            var video: JT1078Reassembler
            var audio: JT1078Reassembler
            var demuxer: JT1078StreamDemuxer
        }
        var streams: [String: Stream] = [:]
        feed(channel, input, as: JT1078Packet.self) { packet in
            invariant(packet.body.readableBytes <= JT1078Header.maxBodyBytes, "body of \(packet.body.readableBytes) bytes")
            guard packet.dataType != .transparent else { return }
            let id = JT1078StreamID.make(sim: packet.sim, channel: packet.channel, stripLeadingZeros: true)
            if streams[id] == nil {
                guard streams.count < 64 else { return }
                streams[id] = Stream(video: JT1078Reassembler(video: true, maxFrameBytes: maxFrame),
                                     audio: JT1078Reassembler(video: false, maxFrameBytes: maxFrame),
                                     demuxer: JT1078StreamDemuxer(audio: audio))
            }
            var frames: [JT1078Reassembler.Event] = []
            if packet.dataType == .audio {
                streams[id]!.audio.push(packet, into: &frames)
            } else {
                streams[id]!.video.push(packet, into: &frames)
            }
            var events: [MediaEvent] = []
            for event in frames {
                switch event {
                case .frame(let frame):
                    invariant(frame.body.readableBytes <= maxFrame, "frame of \(frame.body.readableBytes) bytes")
                    let before = events.count
                    streams[id]!.demuxer.frame(frame, into: &events)
                    // Transcoded audio: at most 4 samples a byte (G.726-16) of a frame of at most 8 KiB.
                    if frame.payloadType == JT1078PayloadType.g726 || frame.payloadType == JT1078PayloadType.adpcm {
                        for case .packet(let p) in events[before...] {
                            invariant(p.codec == .g711a && p.payload.readableBytes <= 4 << 13 + 1,
                                      "\(p.codec) frame of \(p.payload.readableBytes) bytes from ADPCM")
                        }
                    }
                case .discontinuity:
                    streams[id]!.demuxer.discontinuity()
                case .marksUnreliable:
                    break
                }
            }
            for case .packet(let p) in events where p.codec == .h264 || p.codec == .h265 {
                invariant((try? AnnexB.nalUnits(lengthPrefixed: p.payload)) != nil, "video payload is not length-prefixed")
            }
        }
    }
}
