import NIOCore
import RelayCore

/// A track's configuration as of some frame. Shared by reference by all the frames that use
/// it; `generation` changes whenever the configuration does (new SPS/PPS), so consumers can tell
/// with one integer compare whether to send a new sequence header.
public final class CameraTrack: Sendable {
    public let stream: AVStream
    public let generation: Int

    public init(stream: AVStream, generation: Int) {
        self.stream = stream
        self.generation = generation
    }
}

/// One frame as the dispatcher hands it to every consumer. The payload is a reference-counted
/// `ByteBuffer` built once in the fetch loop; consumers share it and never copy it.
public struct CameraFrame: Sendable {
    /// Video: 0, 1, 2 … in capture order; audio frames are numbered separately.
    public var sequence: Int
    /// `dts`/`pts` in milliseconds from the start of capture (timebase 1000). Video payloads are
    /// length-prefixed (4-byte) access units; audio payloads are raw frames (AAC without ADTS
    /// header, G.711 bytes).
    public var packet: AVPacket
    public var track: CameraTrack
    /// Wall-clock capture time, µs since the Unix epoch (what `--stamp` writes into the picture).
    public var captureMicros: Int64

    public init(sequence: Int, packet: AVPacket, track: CameraTrack, captureMicros: Int64) {
        self.sequence = sequence
        self.packet = packet
        self.track = track
        self.captureMicros = captureMicros
    }

    public var isVideo: Bool { packet.isVideo }
    public var isKeyFrame: Bool { packet.isKeyFrame }
    public var timestampMs: Int64 { packet.dts }
    public var byteCount: Int { packet.payload.readableBytes }
}

/// Keeps the latest parameter sets seen in the video stream and turns them into a `CameraTrack`
/// (AVStream with its decoder configuration record) whenever they change.
public struct VideoTrackBuilder: Sendable {
    public let codec: CodecID
    public private(set) var track: CameraTrack?
    private var vps: [ByteBuffer] = []
    private var sps: [ByteBuffer] = []
    private var pps: [ByteBuffer] = []
    private var generation = 0

    public init(codec: CodecID) {
        self.codec = codec
    }

    /// Takes the parameter sets of `accessUnit` into account; returns the track to use for it
    /// (nil until SPS and PPS — and VPS for H.265 — have been seen). Throws when the parameter
    /// sets cannot be parsed.
    public mutating func update(with accessUnit: AccessUnit) throws -> CameraTrack? {
        var newVPS: [ByteBuffer] = []
        var newSPS: [ByteBuffer] = []
        var newPPS: [ByteBuffer] = []
        for nal in accessUnit.nals where NALKind.classify(nal, codec: codec) == .parameterSet {
            let header = nal.getInteger(at: nal.readerIndex, as: UInt8.self) ?? 0
            if codec == .h265 {
                switch (header >> 1) & 0x3F {
                case 32: Self.put(nal, into: &newVPS)
                case 33: Self.put(nal, into: &newSPS)
                default: Self.put(nal, into: &newPPS)
                }
            } else {
                if header & 0x1F == 7 { Self.put(nal, into: &newSPS) } else { Self.put(nal, into: &newPPS) }
            }
        }
        var changed = false
        if !newVPS.isEmpty && newVPS != vps { vps = newVPS; changed = true }
        if !newSPS.isEmpty && newSPS != sps { sps = newSPS; changed = true }
        if !newPPS.isEmpty && newPPS != pps { pps = newPPS; changed = true }
        if changed || track == nil, !sps.isEmpty, !pps.isEmpty, codec != .h265 || !vps.isEmpty {
            // Own copies: the parameter sets outlive the read buffer they were sliced from.
            let stream = codec == .h265
                ? try AVStream.h265(index: 0, timebase: 1000, vps: vps.map(Self.own), sps: sps.map(Self.own),
                                    pps: pps.map(Self.own))
                : try AVStream.h264(index: 0, timebase: 1000, sps: sps.map(Self.own), pps: pps.map(Self.own))
            generation += 1
            track = CameraTrack(stream: stream, generation: generation)
        }
        return track
    }

    private static func put(_ nal: ByteBuffer, into list: inout [ByteBuffer]) {
        if !list.contains(nal) { list.append(nal) }
    }

    /// A compact copy in storage of its own.
    private static func own(_ nal: ByteBuffer) -> ByteBuffer {
        var copy = ByteBufferAllocator().buffer(capacity: nal.readableBytes)
        copy.writeImmutableBuffer(nal)
        return copy
    }
}
