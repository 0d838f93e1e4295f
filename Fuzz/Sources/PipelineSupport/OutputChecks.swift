import FuzzSupport
import NIOCore
import RelayCore
import RelayRTMP

/// What a player receives, checked the way that player would read it. Every write of a player's
/// ChannelSink is a header or a whole segment, so each must parse completely on its own.
protocol OutputCheck: AnyObject {
    func consume(_ bytes: ByteBuffer)
}

/// An RTMP player: the relay's chunk stream must decode (no message over the 24-bit RTMP length,
/// every length and chunk header consistent) into media and metadata messages only.
final class RTMPOutputCheck: OutputCheck {
    private var decoder = RTMPChunkDecoder(maxMessageSize: 0xFF_FFFF, maxChunkSize: 1 << 20, maxChunkStreams: 8)
    private let monotonic: MonotonicCheck?

    init(chunkSize: Int, monotonic: Bool) {
        self.monotonic = monotonic ? MonotonicCheck(kind: "rtmp") : nil
        // What the server's connect answer told the player.
        var setup = ByteBuffer()
        RTMPChunkEncoder.write(.setChunkSize(chunkSize), chunkSize: 128, into: &setup)
        consume(setup)
    }

    func consume(_ bytes: ByteBuffer) {
        var buffer = bytes
        do {
            while let message = try decoder.next(from: &buffer) {
                switch message.typeID {
                case 8, 9:
                    monotonic?.see(track: Int(message.typeID), timestamp: Int64(message.timestamp))
                case 1, 18:
                    break
                default:
                    invariant(false, "RTMP output carries message type \(message.typeID)")
                }
            }
        } catch {
            invariant(false, "an RTMP player cannot decode the relay's output: \(error)")
        }
        invariant(buffer.readableBytes == 0, "an RTMP output write ends inside a chunk (\(buffer.readableBytes) bytes left)")
    }
}

/// An HTTP-FLV player: each write is one HTTP chunk (fixed-width size line) holding whole FLV
/// tags whose size fields and PreviousTagSize agree.
final class FLVOutputCheck: OutputCheck {
    private var sawHeader = false
    private let monotonic: MonotonicCheck?

    init(monotonic: Bool) {
        self.monotonic = monotonic ? MonotonicCheck(kind: "flv") : nil
    }

    func consume(_ bytes: ByteBuffer) {
        guard var body = HTTPChunkCheck.body(of: bytes, output: "HTTP-FLV") else { return }
        if !sawHeader {
            sawHeader = true
            invariant(body.readBytes(length: 3) == Array("FLV".utf8), "HTTP-FLV body does not start with an FLV header")
            body.moveReaderIndex(forwardBy: min(10, body.readableBytes))  // rest of the header, PreviousTagSize0
        }
        while body.readableBytes > 0 {
            guard let type = body.readInteger(as: UInt8.self), let sizeHigh = body.readInteger(as: UInt8.self),
                  let sizeLow = body.readInteger(as: UInt16.self), let time = body.readInteger(as: UInt32.self),
                  body.readBytes(length: 3) != nil else {
                invariant(false, "truncated FLV tag header")
                return
            }
            let dataSize = Int(sizeHigh) << 16 | Int(sizeLow)
            invariant(type == 8 || type == 9 || type == 18, "FLV tag type \(type)")
            guard body.readSlice(length: dataSize) != nil, let previous = body.readInteger(as: UInt32.self) else {
                invariant(false, "FLV tag of \(dataSize) bytes runs past its HTTP chunk")
                return
            }
            invariant(Int(previous) == dataSize + 11, "FLV PreviousTagSize \(previous) for a tag of \(dataSize) bytes (size field truncated?)")
            if type != 18 {
                let timestamp = Int64((time >> 8) | ((time & 0xFF) << 24))
                monotonic?.see(track: Int(type), timestamp: timestamp)
            }
        }
    }
}

/// An RTSP player over TCP: interleaved frames on the channels it set up, each holding an RTP
/// (even channel) or RTCP (odd channel) packet of version 2.
final class RTSPOutputCheck: OutputCheck {
    private let rtp: Set<UInt8>
    private let rtcp: Set<UInt8>

    init(rtp: Set<UInt8>, rtcp: Set<UInt8>) {
        self.rtp = rtp
        self.rtcp = rtcp
    }

    func consume(_ bytes: ByteBuffer) {
        var buffer = bytes
        while buffer.readableBytes > 0 {
            guard let magic = buffer.readInteger(as: UInt8.self), magic == 0x24,
                  let channel = buffer.readInteger(as: UInt8.self), let length = buffer.readInteger(as: UInt16.self),
                  let packet = buffer.readSlice(length: Int(length)) else {
                invariant(false, "RTSP interleaved output is not framed ($ channel length payload)")
                return
            }
            let first = packet.getInteger(at: packet.readerIndex, as: UInt8.self) ?? 0
            if rtp.contains(channel) {
                invariant(packet.readableBytes >= 12 && first >> 6 == 2, "bad RTP packet on channel \(channel)")
            } else if rtcp.contains(channel) {
                invariant(packet.readableBytes >= 8 && first >> 6 == 2, "bad RTCP packet on channel \(channel)")
            } else {
                invariant(false, "interleaved frame on channel \(channel), which was not set up")
            }
        }
    }
}

/// Opt-in (FUZZ_MONOTONIC=1): a player's media timestamps never go back on a track, as the
/// issue's timestamp policy promises.
final class MonotonicCheck {
    private let kind: String
    private var last: [Int: Int64] = [:]

    init(kind: String) { self.kind = kind }

    func see(track: Int, timestamp: Int64) {
        if let previous = last[track] {
            invariant(timestamp >= previous, "\(kind) track \(track) went back from \(previous) to \(timestamp) ms")
        }
        last[track] = timestamp
    }
}
