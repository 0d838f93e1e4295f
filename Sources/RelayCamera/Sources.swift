#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import RelayCore

/// Errors opening or reading camera inputs; the description is meant for the user.
public struct CameraInputError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads access units from an Annex-B H.264/H.265 elementary stream: a file (which can be
/// rewound to loop) or a pipe such as stdin. Blocking reads: it runs on the fetch loop's thread.
public final class AnnexBReader {
    public let codec: CodecID
    public let path: String
    private let fd: Int32
    private let ownsFD: Bool
    private let readSize: Int
    private var scanner = AnnexBScanner()
    private var assembler: AccessUnitSplitter
    private var ended = false
    /// Access units returned since the last rewind.
    public private(set) var unitsSinceRewind = 0

    /// `path` "-" reads stdin.
    public init(path: String, codec: CodecID, readSize: Int = 1 << 20) throws {
        self.codec = codec
        self.path = path
        self.readSize = readSize
        self.assembler = AccessUnitSplitter(codec: codec)
        if path == "-" {
            fd = 0
            ownsFD = false
        } else {
            fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw CameraInputError("cannot open \(path): \(String(cString: strerror(errno)))") }
            ownsFD = true
        }
    }

    deinit {
        if ownsFD { close(fd) }
    }

    /// Whether `rewind()` can loop the input (a regular file, not a pipe).
    public var canRewind: Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The next access unit, or nil at the end of the input.
    public func next() throws -> AccessUnit? {
        while true {
            if let nal = scanner.next() {
                if let unit = assembler.push(nal) {
                    unitsSinceRewind += 1
                    return unit
                }
                continue
            }
            if ended {
                if let nal = scanner.finish(), let unit = assembler.push(nal) {
                    unitsSinceRewind += 1
                    return unit
                }
                if let unit = assembler.flush() {
                    unitsSinceRewind += 1
                    return unit
                }
                return nil
            }
            try fill()
        }
    }

    /// Starts again from the beginning of the file.
    public func rewind() throws {
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            throw CameraInputError("cannot rewind \(path): \(String(cString: strerror(errno)))")
        }
        scanner = AnnexBScanner()
        assembler = AccessUnitSplitter(codec: codec)
        ended = false
        unitsSinceRewind = 0
    }

    private func fill() throws {
        let fd = self.fd
        let size = readSize
        var count = 0
        var failure: Int32 = 0
        scanner.append(capacity: size) { buffer in
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { ptr in
                var n: Int
                repeat { n = read(fd, ptr.baseAddress, min(ptr.count, size)) } while n < 0 && errno == EINTR
                if n < 0 {
                    failure = errno
                    return 0
                }
                count = n
                return n
            }
        }
        if failure != 0 { throw CameraInputError("reading \(path): \(String(cString: strerror(failure)))") }
        if count == 0 { ended = true }
    }
}

/// A raw audio frame source, looping like the video when asked.
public protocol AudioFrameSource: AnyObject {
    var stream: AVStream { get }
    /// Duration of one frame in milliseconds (fractional for AAC at 44.1 kHz).
    var frameDurationMs: Double { get }
    /// The next raw frame, or nil at the end of the input.
    func next() -> ByteBuffer?
    func rewind()
}

/// Opens an audio file by extension (see `CodecID(audioName:)`): .alaw/.pcma (G.711 A-law), .ulaw/.mulaw/.pcmu (µ-law),
/// both raw 8 kHz mono; .aac/.adts (ADTS).
public func openAudioSource(path: String, g711FrameMs: Int = 20) throws -> any AudioFrameSource {
    let ext = CodecID.fileExtension(path)
    guard let codec = CodecID(audioName: ext) else {
        throw CameraInputError("audio \(path): unknown extension .\(ext) (use .alaw, .ulaw or .aac)")
    }
    let data = try readWholeFile(path)
    return codec == .aac ? try ADTSSource(data: data, path: path)
        : G711Source(data: data, codec: codec, frameMs: g711FrameMs)
}

/// Audio inputs are short and small (G.711 is 8 kB/s), so they are read whole.
func readWholeFile(_ path: String, limit: Int = 256 << 20) throws -> ByteBuffer {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw CameraInputError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var buffer = ByteBufferAllocator().buffer(capacity: 64 << 10)
    while true {
        let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 64 << 10) { ptr in
            var n: Int
            repeat { n = read(fd, ptr.baseAddress, ptr.count) } while n < 0 && errno == EINTR
            return max(n, 0)
        }
        if n == 0 { break }
        guard buffer.readableBytes <= limit else { throw CameraInputError("\(path) is larger than \(limit) bytes") }
    }
    guard buffer.readableBytes > 0 else { throw CameraInputError("\(path) is empty") }
    return buffer
}

/// Raw G.711 at 8 kHz mono: frames of `frameMs` (160 bytes for 20 ms).
final class G711Source: AudioFrameSource {
    let stream: AVStream
    let frameDurationMs: Double
    private let data: ByteBuffer
    private let frameBytes: Int
    private var offset = 0

    init(data: ByteBuffer, codec: CodecID, frameMs: Int) {
        self.data = data
        self.frameBytes = 8 * frameMs
        self.frameDurationMs = Double(frameMs)
        self.stream = AVStream.g711(codec, index: 1, timebase: 1000)
    }

    func next() -> ByteBuffer? {
        guard offset + frameBytes <= data.readableBytes else { return nil }
        defer { offset += frameBytes }
        return data.getSlice(at: data.readerIndex + offset, length: frameBytes)
    }

    func rewind() { offset = 0 }
}

/// AAC in ADTS framing: the AudioSpecificConfig comes from the first header; frames are the raw
/// access units (header and CRC stripped), 1024 samples each.
final class ADTSSource: AudioFrameSource {
    let stream: AVStream
    let frameDurationMs: Double
    private let frames: [ByteBuffer]
    private var index = 0

    init(data: ByteBuffer, path: String) throws {
        var frames: [ByteBuffer] = []
        var b = data
        var first: AAC.ADTSHeader?
        while b.readableBytes >= 7 {
            let header: AAC.ADTSHeader
            do {
                header = try AAC.ADTSHeader(parsing: b)
            } catch {
                throw CameraInputError("audio \(path): bad ADTS frame at byte \(b.readerIndex): \(error)")
            }
            guard let frame = b.readSlice(length: header.frameLength) else { break }  // truncated last frame
            if first == nil { first = header }
            if let payload = frame.getSlice(at: frame.readerIndex + header.headerLength, length: header.payloadLength),
               payload.readableBytes > 0 {
                frames.append(payload)
            }
        }
        guard let first, !frames.isEmpty else { throw CameraInputError("audio \(path): no ADTS frames") }
        let config = first.config
        self.stream = try AVStream.aac(index: 1, timebase: 1000, asc: config.encoded())
        self.frameDurationMs = 1024_000.0 / Double(first.sampleRate)
        self.frames = frames
    }

    func next() -> ByteBuffer? {
        guard index < frames.count else { return nil }
        defer { index += 1 }
        return frames[index]
    }

    func rewind() { index = 0 }
}
