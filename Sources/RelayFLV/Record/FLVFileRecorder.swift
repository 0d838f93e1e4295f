import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore

/// Records streams to FLV files: one more sink of an unchunked FLV TransStream (kind "flv-file")
/// per recorded stream, so muxing is the same code players get.
///
/// Files: `<record.dir>/<stream id>/<UTC start>.flv` (RecordPath), rotated at the first key frame
/// after `record.segment_ms` of media, timestamps starting at 0 in each file and `duration`
/// written into onMetaData when the file closes. Disk I/O runs on an `NIOThreadPool`, batched per
/// recording; the event loop only queues buffers. `on_record` fires when a file is closed.
public final class FLVFileRecorder: StreamRecorder {
    public static let kind = OutputKind.flvFile

    let config: RecordConfig
    let root: String
    let hevcMode: HEVCFLVMode
    let pool: NIOThreadPool
    let hooks: (any EventHooks)?
    let logger: Logger
    private let active = NIOLockedValueBox<[SinkID: FLVRecordingSink]>([:])
    /// Recording sink ids, far above session ids so they never collide within a source.
    private let ids = NIOLockedValueBox<UInt64>(1 << 56)

    public init(config: RecordConfig, hevcMode: HEVCFLVMode, hooks: (any EventHooks)?, logger: Logger,
                threadPool: NIOThreadPool = .singleton) {
        self.config = config
        self.root = RecordPath.absoluteDirectory(config.dir)
        self.hevcMode = hevcMode
        self.pool = threadPool
        self.hooks = hooks
        self.logger = logger
    }

    public func makeRecording(stream: String, publisher: SessionInfo, eventLoop: any EventLoop) -> RecordingAttachment? {
        let id = ids.withLockedValue { $0 += 1; return $0 }
        let sink = FLVRecordingSink(id: id, eventLoop: eventLoop, stream: stream, publisher: publisher, recorder: self)
        active.withLockedValue { $0[id] = sink }
        let hevcMode = self.hevcMode
        let logger = self.logger
        return RecordingAttachment(sink: sink, kind: Self.kind, muxer: MuxerFactory(kind: Self.kind) {
            FLVMuxer(framing: .none, hevcMode: hevcMode, logger: logger)
        })
    }

    public func recordsByConfig(_ stream: String) -> Bool { config.matches(stream) }

    /// Recordings whose last file is not closed yet.
    public var openRecordings: Int { active.withLockedValue { $0.count } }

    /// Waits until every ended recording has closed its file and fired on_record (server stop:
    /// call it after closing the sources), at most `timeout`.
    public func drain(timeout: TimeAmount = .seconds(10)) async {
        let deadline = NIODeadline.now() + timeout
        while openRecordings > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        if openRecordings > 0 { logger.warning("\(openRecordings) recordings still writing at shutdown") }
    }

    func finished(_ id: SinkID) {
        active.withLockedValue { _ = $0.removeValue(forKey: id) }
    }

    func closedFile(_ file: RecordedFile, stream: String, publisher: SessionInfo) {
        if let error = file.error {
            logger.error("recording \(file.path) of \(stream) closed with an error: \(error)")
        } else {
            logger.info("recorded \(file.path): \(file.durationMs) ms, \(file.size) bytes (\(file.reason))")
        }
        guard let hooks, hooks.isConfigured(.record) else { return }
        var extra: [String: JSONValue] = [
            "path": .string(file.path),
            "file": .string(file.relative),
            "dir": .string(root),
            "start_time": .string(RecordPath.iso8601(file.start)),
            "start_ms": .number((file.start.timeIntervalSince1970 * 1000).rounded(.down)),
            "duration_ms": .number(Double(file.durationMs)),
            "size": .number(Double(file.size)),
            "reason": .string(file.reason),
        ]
        if let error = file.error { extra["error"] = .string(error) }
        hooks.notify(.record, stream: stream, session: publisher, extra: extra)
    }
}

/// A file closed by a recording (what on_record reports).
struct RecordedFile: Sendable {
    var path: String
    var relative: String
    var start: Date
    var durationMs: Int64
    var size: Int64
    var reason: String
    var error: String?
}

/// One recorded stream. Confined to `eventLoop` (the source's; entry points assert it); the file
/// descriptor lives in `FileJob`, touched only by the pool jobs this sink runs one at a time.
final class FLVRecordingSink: BackgroundSink, @unchecked Sendable {
    let id: SinkID
    let eventLoop: any EventLoop
    private let stream: String
    private let publisher: SessionInfo
    private let recorder: FLVFileRecorder
    private let job = FileJob()

    private struct OpenFile {
        var path: String
        var relative: String
        var start: Date
        var base: UInt32?
        var lastTs: UInt32 = 0
        var bytes: Int64 = 0
        /// Offset of onMetaData's `duration` number in the file, patched at close.
        var durationOffset: Int?
    }

    private var header = ByteBuffer()
    private var headerDurationOffset: Int?
    /// Latest sequence header tag per tag type seen in the media (a config change), for the next file.
    private var sequenceHeaders: [UInt8: ByteBuffer] = [:]
    private var file: OpenFile?
    private var fileCount = 0
    private var waitingForKey = false
    private var ended = false
    private var ops: [FileJob.Op] = []
    private var busy = false
    private var queuedBytes = 0
    private var droppedSinceLog = 0

    init(id: SinkID, eventLoop: any EventLoop, stream: String, publisher: SessionInfo, recorder: FLVFileRecorder) {
        self.id = id
        self.eventLoop = eventLoop
        self.stream = stream
        self.publisher = publisher
        self.recorder = recorder
    }

    // MARK: MediaSink

    func start(_ startup: StartupBytes) {
        eventLoop.assertInEventLoop()
        header = startup.header
        headerDurationOffset = Self.durationOffset(in: header)
        waitingForKey = startup.segments.first?.startsWithKeyFrame != true
        for segment in startup.segments { handle(segment) }
    }

    func deliver(_ segment: Segment) {
        eventLoop.assertInEventLoop()
        handle(segment)
    }

    func sourceEnded() {
        eventLoop.assertInEventLoop()
        guard !ended else { return }
        ended = true
        closeFile(reason: "stream ended")
        pump()
    }

    // MARK: media

    private func handle(_ segment: Segment) {
        guard !ended, segment.bytes.readableBytes > 0 else { return }
        if waitingForKey {
            guard segment.startsWithKeyFrame else { return }
            waitingForKey = false
        }
        if queuedBytes + segment.bytes.readableBytes > recorder.config.maxPendingBytes {
            waitingForKey = true
            droppedSinceLog += 1
            if droppedSinceLog == 1 {
                recorder.logger.warning("recording of \(stream): disk is behind by \(queuedBytes) bytes; dropping media up to the next key frame")
            }
            return
        }
        droppedSinceLog = 0
        let first = Self.firstTimestamp(segment.bytes)
        if let current = file, let base = current.base, let ts = first, segment.startsWithKeyFrame,
           recorder.config.segmentMs > 0, ts >= base, Int(ts - base) >= recorder.config.segmentMs {
            closeFile(reason: "rotated")
        }
        if file == nil { openFile() }
        guard var current = file else { return }
        if current.base == nil { current.base = first }
        var bytes = segment.bytes
        rebase(&bytes, base: current.base ?? 0, lastTs: &current.lastTs)
        current.bytes += Int64(bytes.readableBytes)
        file = current
        enqueue(.write(bytes))
    }

    private func openFile() {
        let start = Date()
        let name = RecordPath.fileName(start: start, sequence: 0)
        guard let (path, relative) = RecordPath.file(dir: recorder.config.dir, stream: stream, name: name) else {
            recorder.logger.error("recording of \(stream): no safe path under \(recorder.root)")
            return
        }
        fileCount += 1
        var opened = OpenFile(path: path, relative: relative, start: start)
        opened.durationOffset = headerDurationOffset
        var head = header
        for type in sequenceHeaders.keys.sorted() {
            if var tag = sequenceHeaders[type] { head.writeBuffer(&tag) }
        }
        opened.bytes = Int64(head.readableBytes)
        file = opened
        enqueue(.open(path))
        enqueue(.write(head))
    }

    private func closeFile(reason: String) {
        guard let current = file else { return }
        file = nil
        let duration = Int64(current.lastTs)
        let info = RecordedFile(path: current.path, relative: current.relative, start: current.start,
                                durationMs: duration, size: current.bytes, reason: reason)
        enqueue(.close(info, durationOffset: current.durationOffset, seconds: Double(duration) / 1000))
    }

    /// Timestamps relative to the file's first media tag; remembers sequence headers.
    private func rebase(_ bytes: inout ByteBuffer, base: UInt32, lastTs: inout UInt32) {
        var offset = bytes.readerIndex
        let end = bytes.writerIndex
        while offset + FLVTagHeader.size <= end {
            guard let type = bytes.getInteger(at: offset, as: UInt8.self),
                  let size24 = bytes.getInteger(at: offset, as: UInt32.self),
                  let ts24 = bytes.getInteger(at: offset + 3, as: UInt32.self) else { return }
            let size = Int(size24 & 0xFF_FFFF)
            let total = FLVTagHeader.size + size + 4
            guard offset + total <= end else { return }
            let ts = (ts24 & 0xFF_FFFF) | Self.extended(bytes, offset)
            let rebased = ts >= base ? ts - base : 0
            if rebased != ts { Self.setTimestamp(&bytes, at: offset, rebased) }
            if (type & 0x1F) != FLVTagType.script { lastTs = max(lastTs, rebased) }
            if Self.isSequenceHeader(bytes, tagAt: offset, type: type & 0x1F, size: size),
               var tag = bytes.getSlice(at: offset, length: total) {
                var copy = ByteBuffer()
                copy.writeBuffer(&tag)
                Self.setTimestamp(&copy, at: 0, 0)
                sequenceHeaders[type & 0x1F] = copy
            }
            offset += total
        }
    }

    // MARK: disk

    private func enqueue(_ op: FileJob.Op) {
        if case .write(let b) = op { queuedBytes += b.readableBytes }
        ops.append(op)
        pump()
    }

    private func pump() {
        guard !busy else { return }
        guard !ops.isEmpty else {
            if ended { recorder.finished(id) }
            return
        }
        busy = true
        let batch = ops
        ops.removeAll(keepingCapacity: true)
        let bytes = batch.reduce(0) { n, op in if case .write(let b) = op { return n + b.readableBytes }; return n }
        let job = self.job
        recorder.pool.runIfActive(eventLoop: eventLoop) { job.run(batch) }.whenComplete { result in
            self.busy = false
            self.queuedBytes -= bytes
            switch result {
            case .success(let closed):
                for file in closed { self.recorder.closedFile(file, stream: self.stream, publisher: self.publisher) }
            case .failure(let error):
                self.recorder.logger.error("recording of \(self.stream): \(error)")
            }
            self.pump()
        }
    }

    // MARK: FLV bytes

    private static func extended(_ bytes: ByteBuffer, _ offset: Int) -> UInt32 {
        UInt32(bytes.getInteger(at: offset + 7, as: UInt8.self) ?? 0) << 24
    }

    private static func setTimestamp(_ bytes: inout ByteBuffer, at offset: Int, _ ts: UInt32) {
        bytes.setInteger(UInt8(truncatingIfNeeded: ts >> 16), at: offset + 4)
        bytes.setInteger(UInt16(truncatingIfNeeded: ts), at: offset + 5)
        bytes.setInteger(UInt8(truncatingIfNeeded: ts >> 24), at: offset + 7)
    }

    static func firstTimestamp(_ bytes: ByteBuffer) -> UInt32? {
        var offset = bytes.readerIndex
        while offset + FLVTagHeader.size <= bytes.writerIndex {
            guard let type = bytes.getInteger(at: offset, as: UInt8.self),
                  let size24 = bytes.getInteger(at: offset, as: UInt32.self),
                  let ts24 = bytes.getInteger(at: offset + 3, as: UInt32.self) else { return nil }
            if (type & 0x1F) != FLVTagType.script && !isSequenceHeader(bytes, tagAt: offset, type: type & 0x1F, size: Int(size24 & 0xFF_FFFF)) {
                return (ts24 & 0xFF_FFFF) | extended(bytes, offset)
            }
            offset += FLVTagHeader.size + Int(size24 & 0xFF_FFFF) + 4
        }
        return nil
    }

    /// AVC/HEVC (legacy or enhanced) decoder configuration, or AAC AudioSpecificConfig.
    static func isSequenceHeader(_ bytes: ByteBuffer, tagAt offset: Int, type: UInt8, size: Int) -> Bool {
        guard size >= 2, let b0 = bytes.getInteger(at: offset + 11, as: UInt8.self),
              let b1 = bytes.getInteger(at: offset + 12, as: UInt8.self) else { return false }
        switch type {
        case FLVTagType.video:
            if b0 & 0x80 != 0 { return b0 & 0x0F == 0 }  // enhanced RTMP: PacketTypeSequenceStart
            let codec = b0 & 0x0F
            return (codec == 7 || codec == 12) && b1 == 0
        case FLVTagType.audio:
            return b0 >> 4 == 10 && b1 == 0
        default:
            return false
        }
    }

    /// Where the 8-byte `duration` number of onMetaData sits in the header (key length 8,
    /// "duration", AMF0 number marker).
    static func durationOffset(in header: ByteBuffer) -> Int? {
        let needle: [UInt8] = [0x00, 0x08] + Array("duration".utf8) + [0x00]
        let view = Array(header.readableBytesView.prefix(512))
        guard view.count >= needle.count + 8 else { return nil }
        for i in 0...(view.count - needle.count - 8) where view[i] == needle[0] && Array(view[i..<(i + needle.count)]) == needle {
            return i + needle.count
        }
        return nil
    }
}

/// The blocking side of a recording: runs on the thread pool, one batch at a time.
final class FileJob: @unchecked Sendable {
    enum Op: Sendable {
        case open(String)
        case write(ByteBuffer)
        case close(RecordedFile, durationOffset: Int?, seconds: Double)
    }

    private var fd: CInt = -1
    private var written: Int64 = 0
    private var error: String?

    func run(_ ops: [Op]) -> [RecordedFile] {
        var closed: [RecordedFile] = []
        for op in ops {
            switch op {
            case .open(let path):
                if fd >= 0 { _ = close(fd) }
                written = 0
                error = nil
                do {
                    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                            withIntermediateDirectories: true)
                } catch {
                    self.error = "cannot create directory: \(error)"
                }
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                if fd < 0 && error == nil { error = "cannot open: \(String(cString: strerror(errno)))" }
            case .write(let buffer):
                guard fd >= 0, error == nil else { continue }
                buffer.withUnsafeReadableBytes { raw in
                    var done = 0
                    while done < raw.count {
                        let n = write(fd, raw.baseAddress! + done, raw.count - done)
                        if n < 0 {
                            if errno == EINTR { continue }
                            error = "write failed: \(String(cString: strerror(errno)))"
                            return
                        }
                        done += n
                    }
                }
                written += Int64(buffer.readableBytes)
            case .close(var info, let durationOffset, let seconds):
                if fd >= 0 {
                    if let durationOffset, error == nil {
                        var be = seconds.bitPattern.bigEndian
                        _ = withUnsafeBytes(of: &be) { pwrite(fd, $0.baseAddress!, 8, off_t(durationOffset)) }
                    }
                    _ = close(fd)
                    fd = -1
                }
                info.size = written
                info.error = error
                closed.append(info)
            }
        }
        return closed
    }
}
