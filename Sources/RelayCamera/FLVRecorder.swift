#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayFLV

/// Local recording to an FLV file: a queued consumer (blocking writes on its own thread, bounded
/// drop-oldest queue). Starts at the first key frame; after frames were dropped it waits for the
/// next key frame again, so the file stays decodable.
public final class FLVRecorder: FrameConsumer, @unchecked Sendable {
    public let name = "record"
    public let delivery: FrameDelivery
    public let path: String
    private let logger: Logger
    private let audio: AVStream?
    private let hevcMode: HEVCFLVMode
    private let fd: Int32
    private let counters = NIOLockedValueBox((frames: 0, bytes: 0, error: String?.none))

    // Recorder thread state.
    private var muxer: FLVMuxer
    private var videoStream: AVStream?
    private var videoGeneration = -1
    private var base: Int64?
    private var lastVideoSequence: Int?
    private var needKeyFrame = true
    private var failed = false
    private var out = ByteBufferAllocator().buffer(capacity: 256 << 10)

    /// Creates (truncates) the file now, so a bad path fails before anything starts.
    public init(path: String, audio: AVStream?, hevcMode: HEVCFLVMode, queueCapacity: Int = 64, logger: Logger) throws {
        self.path = path
        self.audio = audio
        self.hevcMode = hevcMode
        self.logger = logger
        self.delivery = .queued(capacity: queueCapacity)
        self.muxer = FLVMuxer(framing: .none, hevcMode: hevcMode)
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CameraInputError("cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    public var framesWritten: Int { counters.withLockedValue { $0.frames } }
    public var bytesWritten: Int { counters.withLockedValue { $0.bytes } }
    public var error: String? { counters.withLockedValue { $0.error } }

    public func consume(_ frame: CameraFrame) {
        guard !failed else { return }
        // A gap in the sequence means the queue dropped frames: resume at a key frame.
        if frame.isVideo {
            if let last = lastVideoSequence, frame.sequence != last + 1 { needKeyFrame = true }
            lastVideoSequence = frame.sequence
        }
        if needKeyFrame && !(frame.isVideo && frame.isKeyFrame) { return }
        needKeyFrame = false
        out.clear()
        if videoStream == nil, frame.isVideo {
            videoStream = frame.track.stream
            videoGeneration = frame.track.generation
            muxer.writeHeader(streams: [frame.track.stream] + (audio.map { [$0] } ?? []), into: &out)
        } else if frame.isVideo && frame.track.generation != videoGeneration {
            videoStream = frame.track.stream
            videoGeneration = frame.track.generation
            muxer.configChanged(frame.track.stream, streams: [frame.track.stream], into: &out)
        }
        let start = base ?? frame.timestampMs
        base = start
        var packet = frame.packet
        packet.dts = max(0, packet.dts - start)
        packet.pts = max(0, packet.pts - start)
        muxer.mux(packet, stream: frame.track.stream, into: &out)
        write()
        counters.withLockedValue {
            $0.frames += 1
            $0.bytes += out.readableBytes
        }
    }

    public func finish() {
        close(fd)
        let (frames, bytes) = counters.withLockedValue { ($0.frames, $0.bytes) }
        logger.info("recorded \(frames) frames, \(bytes) bytes to \(path)")
    }

    private func write() {
        let result: Int32 = out.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
        if result != 0 {
            failed = true
            let message = "writing \(path): \(String(cString: strerror(result)))"
            counters.withLockedValue { $0.error = message }
            logger.error("recording stopped: \(message)")
        }
    }
}

private func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, bytes, count)
    #else
    Darwin.write(fd, bytes, count)
    #endif
}
