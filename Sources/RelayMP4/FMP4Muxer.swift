import Logging
import NIOCore
import RelayCore

/// Fragmented MP4 from AVPackets, for MSE players, ffplay and HLS fMP4 segments: the header is
/// the initialization segment, every packet one movie fragment. H.264, H.265 and AAC are
/// carried; other tracks (G.711: browsers cannot decode it in MP4) are left out, logged once.
public final class FMP4Muxer: Muxer {
    public enum Framing: Sendable { case httpChunked, none }

    private let framing: Framing
    private let logger: Logger
    /// The carried tracks (at most one video, one audio) and their decode clocks.
    private var tracks: [MP4Track] = []
    private var clocks: [UInt32: FMP4TrackClock] = [:]
    private var sequence: UInt32 = 0
    private var loggedLeftOut = false

    public init(framing: Framing, logger: Logger = Logger(label: "relay.mux")) {
        self.framing = framing
        self.logger = logger
    }

    /// HTTP fMP4: each segment one HTTP chunk, framed in place.
    public static func factory(logger: Logger = Logger(label: "relay.mux")) -> MuxerFactory {
        MuxerFactory(kind: .fmp4) { FMP4Muxer(framing: .httpChunked, logger: logger) }
    }

    /// fMP4 over WebSocket: plain fragments; the frame header is added per connection.
    public static func webSocketFactory(logger: Logger = Logger(label: "relay.mux")) -> MuxerFactory {
        MuxerFactory(kind: .wsFMP4) { FMP4Muxer(framing: .none, logger: logger) }
    }

    public var segmentPrefixSize: Int { framing == .httpChunked ? HTTPChunkFraming.prefixSize : 0 }

    public func finishSegment(_ buffer: inout ByteBuffer) {
        if framing == .httpChunked { HTTPChunkFraming.finish(&buffer) }
    }

    public func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer) {
        setTracks(streams)
        FMP4InitSegment.write(tracks: tracks, into: &buffer)
    }

    /// A new initialization segment in-band: MSE takes one mid-stream, and HLS starts a new map
    /// at a segment that begins with `ftyp`.
    public func configChanged(_ stream: AVStream, streams: [AVStream], into buffer: inout ByteBuffer) {
        setTracks(streams)
        FMP4InitSegment.write(tracks: tracks, into: &buffer)
    }

    public func mux(_ packet: AVPacket, stream: AVStream, into buffer: inout ByteBuffer) {
        // An empty sample decodes to nothing and some decoders reject it; a packet of another
        // codec than its track's sample entry (before the config change that announces it)
        // would not decode either.
        guard packet.payload.readableBytes > 0,
              let track = tracks.first(where: { $0.streamIndex == packet.streamIndex }),
              track.codec == packet.codec else { return }
        var clock = clocks[track.id] ?? FMP4TrackClock(timescale: track.timescale)
        let timing = clock.next(dts: packet.dts, pts: packet.pts, timebase: stream.timebase,
                                fixedDuration: track.fixedDuration)
        clocks[track.id] = clock
        sequence &+= 1
        let sample = FMP4Fragment.Sample(decodeTime: timing.decodeTime, duration: timing.duration,
                                         compositionOffset: timing.compositionOffset,
                                         isSync: packet.isKeyFrame, isVideo: track.isVideo)
        FMP4Fragment.write(sequence: sequence, trackID: track.id, sample: sample, payload: packet.payload, into: &buffer)
    }

    /// Picks the first carried video and audio track; keeps each track's clock across a config
    /// change (rescaled if its timescale changed).
    private func setTracks(_ streams: [AVStream]) {
        var chosen: [MP4Track] = []
        var leftOut: [String] = []
        for stream in streams {
            switch MP4Track.make(stream) {
            case .success(let track) where !chosen.contains { $0.id == track.id }:
                chosen.append(track)
            case .success:
                leftOut.append("\(stream.codec) #\(stream.index) (a second \(stream.kind) track)")
            case .failure(.codec):
                leftOut.append("\(stream.codec) #\(stream.index) (not playable in MP4 by browsers)")
            case .failure(.noConfig):
                leftOut.append("\(stream.codec) #\(stream.index) (no decoder configuration)")
            }
        }
        tracks = chosen.sorted { $0.id < $1.id }
        for track in tracks {
            if let clock = clocks[track.id], clock.timescale != track.timescale {
                clocks[track.id] = clock.rescaled(to: track.timescale)
            }
        }
        if !leftOut.isEmpty && !loggedLeftOut {
            loggedLeftOut = true
            let note = tracks.isEmpty ? "; nothing left to play" : ""
            logger.warning("fMP4 leaves out tracks: \(leftOut.joined(separator: ", "))\(note)")
        }
    }
}
