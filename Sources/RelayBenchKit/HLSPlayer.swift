import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// An HLS client as a browser player behaves, on one HTTP/1.1 keep-alive connection: the
/// multivariant playlist, then the media playlist, each new segment fetched once (the init
/// section first for fMP4), the playlist reloaded after the target duration when it changed and
/// after half of it when not (RFC 8216 6.3.4). Every segment's frames are counted
/// (`HLSSegmentCounter`); bytes are counted as received.
public final class HLSPlayer: BenchPlayer {
    public let connection: PlayerConnection

    /// `startSegments`: how many of the newest segments of the first playlist to fetch.
    public static func connect(host: String, port: Int, path: String, group: any EventLoopGroup,
                               startSegments: Int = 1, receiveBufferBytes: Int = 0) async throws -> HLSPlayer {
        let connection = try await PlayerConnection.open(host: host, port: port, group: group,
                                                         receiveBufferBytes: receiveBufferBytes) { state in
            PlayerPipelineFront(state: state) { pipeline, front in
                try pipeline.addHTTPClientHandlers(position: .after(front))
                try pipeline.addHandler(HLSClientHandler(state: state, host: "\(host):\(port)", playlist: path,
                                                         startSegments: max(1, startSegments)))
            }
        }
        return HLSPlayer(connection: connection)
    }

    private init(connection: PlayerConnection) {
        self.connection = connection
    }
}

private final class HLSClientHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private enum Fetch {
        case playlist(String)
        case initSection(String)
        case segment(String)

        var path: String {
            switch self {
            case .playlist(let p), .initSection(let p), .segment(let p): return p
            }
        }
    }

    private let state: NIOLockedValueBox<PlayerStats>
    private let host: String
    private let startSegments: Int
    private var mediaPlaylist: String?
    private var queue: [Fetch]
    private var inFlight: Fetch?
    private var playlistBody = ByteBuffer()
    private var counter = HLSSegmentCounter()
    private var lastSequence: Int?
    private var initSection: String?
    private var pollEvery = TimeAmount.seconds(1)
    private var poll: Scheduled<Void>?

    /// Playlists are small; a larger body is not one.
    static let maxPlaylistBytes = 1 << 20

    init(state: NIOLockedValueBox<PlayerStats>, host: String, playlist: String, startSegments: Int) {
        self.state = state
        self.host = host
        self.startSegments = startSegments
        self.queue = [.playlist(playlist)]
    }

    func channelActive(context: ChannelHandlerContext) {
        next(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        poll?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let fetch = inFlight else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            state.withLockedValue { $0.status = Int(head.status.code) }
            guard head.status == .ok else { return state.fail(context, "status \(head.status.code) for \(fetch.path)") }
            if case .playlist = fetch { playlistBody.clear() } else {
                do { try counter.startSegment() } catch { return state.fail(context, "\(error)") }
            }
        case .body(let body):
            if case .playlist = fetch {
                guard playlistBody.readableBytes + body.readableBytes <= Self.maxPlaylistBytes else {
                    return state.fail(context, "playlist over \(Self.maxPlaylistBytes) bytes")
                }
                playlistBody.writeImmutableBuffer(body)
            } else {
                do { try counter.consume(body) { state.recordSample($0) } } catch { return state.fail(context, "\(error)") }
            }
        case .end:
            inFlight = nil
            if case .playlist(let path) = fetch { playlistLoaded(path, context: context) }
            next(context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.fail(context, "\(error)")
    }

    private func playlistLoaded(_ path: String, context: ChannelHandlerContext) {
        switch HLSPlaylist(parsing: String(buffer: playlistBody)) {
        case .multivariant(let variants)?:
            guard let first = variants.first else { return state.fail(context, "multivariant playlist without variants") }
            mediaPlaylist = HLSPlaylist.resolve(first, against: path)
            queue.append(.playlist(mediaPlaylist ?? path))
        case .media(let media)?:
            mediaPlaylist = path
            // RFC 8216 6.3.4: after a playlist that changed, wait the target duration before
            // reloading; after one that did not, half of it.
            let changed = media.segments.last.map { $0.sequence != lastSequence } ?? false
            pollEvery = .milliseconds(Int64(max(100, media.targetDuration * (changed ? 1000 : 500))))
            if let uri = media.initSection, uri != initSection {
                initSection = uri
                queue.append(.initSection(HLSPlaylist.resolve(uri, against: path)))
            }
            let fresh = lastSequence.map { last in media.segments.filter { $0.sequence > last } }
                ?? Array(media.segments.suffix(startSegments))
            queue += fresh.map { .segment(HLSPlaylist.resolve($0.uri, against: path)) }
            if let newest = fresh.last?.sequence { lastSequence = newest }
            if media.ended { context.close(promise: nil) }
        case nil:
            state.fail(context, "not an M3U8 playlist: \(path)")
        }
    }

    /// The next queued request, or a playlist reload after `pollEvery`.
    private func next(_ context: ChannelHandlerContext) {
        guard inFlight == nil, context.channel.isActive else { return }
        guard !queue.isEmpty else {
            guard poll == nil, let playlist = mediaPlaylist else { return }
            poll = context.eventLoop.assumeIsolated().scheduleTask(in: pollEvery) { [self] in
                poll = nil
                queue.append(.playlist(playlist))
                next(context)
            }
            return
        }
        let fetch = queue.removeFirst()
        inFlight = fetch
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "User-Agent", value: "relay-bench")
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: fetch.path, headers: headers))),
                      promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
