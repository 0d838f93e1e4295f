import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import RelayFLV

/// The fan-out floor: the least a relay can do to deliver one live stream over HTTP-FLV to N
/// players. It reads an FLV clip, cuts it into segments exactly as the relay's merge-write buffer
/// does (before every video key frame, and once a segment spans `--merge-ms`), paces them in real
/// time (looping the clip) and writes each segment — one shared buffer, one write+flush — to every
/// connected socket. No demuxing, no GOP cache, no slow-player policy, no per-player state beyond
/// the socket: what is left is the kernel's cost of moving the bytes plus SwiftNIO's write path.
/// `relay-bench play` reads it like the relay, so both are measured the same way.
@main
struct RelayFloor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-floor",
        abstract: "Fan-out floor: write pre-built HTTP-FLV segments of a clip to every connected player.")

    @Option(help: "FLV clip to loop.")
    var input: String

    @Option(help: "Listen address.")
    var host = "127.0.0.1"

    @Option(help: "Listen port (0 = any; the chosen port is printed).")
    var port = 0

    @Option(help: "Segment span in ms, as the relay's source.merge_write_ms (0 = one segment per tag).")
    var mergeMs = 0

    @Flag(help: "Write each segment once to a tmpfs file and send it to every socket with sendfile (zero copy).")
    var sendfile = false

    func run() throws {
        let clip = try Clip(path: input, mergeMs: Int64(mergeMs))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let players = Players(loop: loop, header: clip.header, sendfile: sendfile)
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(RequestHandler(players: players))
                }
            }
            .bind(host: host, port: port).wait()
        FileHandle.standardOutput.write(Data("listening on \(channel.localAddress?.port ?? 0)\n".utf8))
        let pacer = Pacer(clip: clip, players: players)
        loop.execute { pacer.start(on: loop) }
        try channel.closeFuture.wait()
    }
}

/// The clip as segments of (media time of its first tag, bytes), cut like MergeWriteBuffer.
struct Clip {
    var header: ByteBuffer
    var segments: [(ms: Int64, tags: [FLVTag])] = []
    var durationMs: Int64 = 0

    init(path: String, mergeMs: Int64) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var buffer = ByteBuffer(bytes: data)
        var reader = FLVTagReader()
        header = ByteBuffer()
        FLVFileHeader.write(hasAudio: true, hasVideo: true, into: &header)
        var open: [FLVTag] = []
        var openMs: Int64 = 0
        var started = false
        while let tag = try reader.next(from: &buffer) {
            let ms = Int64(tag.timestamp)
            durationMs = max(durationMs, ms + 40)
            let isVideo = tag.type == FLVTagType.video
            let first = tag.body.getInteger(at: tag.body.readerIndex, as: UInt8.self) ?? 0
            let second = tag.body.getInteger(at: tag.body.readerIndex + 1, as: UInt8.self) ?? 1
            let sequenceHeader = (isVideo || tag.type == FLVTagType.audio) && second == 0
            if tag.type == FLVTagType.script || (!started && sequenceHeader) {
                FLVTag.write(type: tag.type, timestamp: 0, body: tag.body, into: &header)
                continue
            }
            started = true
            let key = isVideo && first >> 4 == 1
            if !open.isEmpty && (key || ms - openMs >= mergeMs) {
                segments.append((openMs, open))
                open = []
            }
            if open.isEmpty { openMs = ms }
            open.append(tag)
        }
        if !open.isEmpty { segments.append((openMs, open)) }
    }

    /// One segment as an HTTP chunk, its timestamps moved on by `offsetMs` (the loops so far).
    func chunk(_ index: Int, offsetMs: Int64) -> ByteBuffer {
        var body = ByteBuffer()
        for tag in segments[index].tags {
            FLVTag.write(type: tag.type, timestamp: UInt32(truncatingIfNeeded: Int64(tag.timestamp) + offsetMs),
                         body: tag.body, into: &body)
        }
        var out = ByteBuffer()
        out.reserveCapacity(body.readableBytes + 16)
        out.writeString(String(body.readableBytes, radix: 16) + "\r\n")
        out.writeBuffer(&body)
        out.writeString("\r\n")
        return out
    }
}

/// The connected players; touched only on the one event loop.
final class Players: @unchecked Sendable {
    let loop: any EventLoop
    let header: ByteBuffer
    private(set) var channels: [ObjectIdentifier: any Channel] = [:]
    let sendfile: Bool
    /// Recent segment files, kept open while writes of them may still be pending.
    private var recent: [TmpfsSegment] = []

    init(loop: any EventLoop, header: ByteBuffer, sendfile: Bool) {
        self.loop = loop
        self.header = header
        self.sendfile = sendfile
    }

    func add(_ channel: any Channel) {
        loop.execute {
            self.channels[ObjectIdentifier(channel)] = channel
            channel.closeFuture.whenComplete { _ in
                self.loop.execute { self.channels[ObjectIdentifier(channel)] = nil }
            }
        }
    }

    func write(_ segment: ByteBuffer) {
        if sendfile, let file = TmpfsSegment(segment) {
            recent.append(file)
            if recent.count > 256 { recent.removeFirst() }
            let region = FileRegion(fileHandle: file.handle, readerIndex: 0, endIndex: segment.readableBytes)
            for channel in channels.values { channel.writeAndFlush(region, promise: nil) }
            return
        }
        for channel in channels.values { channel.writeAndFlush(segment, promise: nil) }
    }
}

/// Emits each segment when the media time after it has passed, like the relay cutting a segment
/// when the packet that closes it arrives.
final class Pacer: @unchecked Sendable {
    let clip: Clip
    let players: Players
    private var index = 0
    private var loops: Int64 = 0
    private var start = NIODeadline.now()

    init(clip: Clip, players: Players) {
        self.clip = clip
        self.players = players
    }

    func start(on loop: any EventLoop) {
        start = .now()
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) { _ in self.tick() }
    }

    private func tick() {
        let elapsedMs = (NIODeadline.now() - start).nanoseconds / 1_000_000
        while true {
            let next = index + 1 < clip.segments.count ? clip.segments[index + 1].ms : clip.durationMs
            guard next + loops * clip.durationMs <= elapsedMs else { return }
            players.write(clip.chunk(index, offsetMs: loops * clip.durationMs))
            index += 1
            if index == clip.segments.count {
                index = 0
                loops += 1
            }
        }
    }
}

/// Waits for the request head, answers 200 with chunked FLV and hands the socket to `players`.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let players: Players
    private var head = ByteBuffer()
    private var answered = false

    init(players: Players) { self.players = players }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var incoming = unwrapInboundIn(data)
        head.writeBuffer(&incoming)
        guard head.readableBytesView.firstRange(of: [13, 10, 13, 10]) != nil else {
            if head.readableBytes > 16 << 10 { context.close(promise: nil) }
            return
        }
        answered = true
        var out = context.channel.allocator.buffer(capacity: 256 + players.header.readableBytes)
        out.writeString("HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        out.writeString(String(players.header.readableBytes, radix: 16) + "\r\n")
        out.writeImmutableBuffer(players.header)
        out.writeString("\r\n")
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        players.add(context.channel)
    }
}

/// A segment written once to an unlinked file on /dev/shm, for sendfile.
final class TmpfsSegment {
    let handle: NIOFileHandle

    init?(_ bytes: ByteBuffer) {
        let path = "/dev/shm/relay-floor-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        unlink(path)
        let written = bytes.withUnsafeReadableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.readableBytes else { Glibc.close(fd); return nil }
        handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
    }

    deinit { try? handle.close() }
}
