import Logging
import NIOCore
import RelayCore

/// Answers every HLS request of the players' HTTP port (one `HTTPRoute`): new sessions, media
/// playlists (blocking reloads included), segments, parts and init segments, all from memory.
final class HLSService: Sendable {
    let context: RelayContext
    let config: HLSConfig
    let muxers: HLSMuxers
    let registry = HLSRegistry()
    private let group: any EventLoopGroup
    private let logger: Logger

    init(context: RelayContext, config: HLSConfig, group: any EventLoopGroup, muxers: HLSMuxers) {
        self.context = context
        self.config = config
        self.group = group
        self.muxers = muxers
        var logger = context.logger
        logger[metadataKey: "module"] = "hls"
        self.logger = logger
    }

    /// Sessions open at once: a session costs no connection, so requests alone could pile them
    /// up for a whole `session_timeout_ms`; past this, new ones are answered 503.
    static let maxSessions = 50_000

    var route: HTTPRoute {
        HTTPRoute(onAdminPort: false, matching: { HLSPath.matches($0) }, answerNow: { [self] in self.answerNow($0) },
                  handle: { [self] in await self.handle($0) })
    }

    /// A request, parsed once.
    enum Request {
        case answer(HTTPAnswer)
        case newSession(stream: String, params: [String: String])
        case playlist(stream: String, token: String, msn: Int?, part: Int?)
        case file(HLSFile, stream: String, token: String, counted: Bool)
    }

    func parse(_ call: HTTPCall) -> Request {
        guard call.method == "GET" || call.method == "HEAD" else {
            return .answer(HLSAnswer.text(405, "method not allowed\n", headers: [("Allow", "GET, HEAD")]))
        }
        guard let path = HLSPath(call.path[...]) else { return .answer(HLSAnswer.notFound) }
        switch path {
        case .playlist(let stream):
            let query = HLSQuery(call.query)
            guard let token = query.session else {
                let params = call.query.isEmpty ? [:] : splitQuery(("?" + call.query)[...]).params
                return .newSession(stream: stream, params: params)
            }
            guard HLSRegistry.isToken(token) else { return .answer(HLSAnswer.notFound) }
            let msn = query.msn.map { HLSFile.number($0) }
            let part = query.part.map { HLSFile.number($0) }
            if msn == .some(nil) { return .answer(HLSAnswer.text(400, "bad _HLS_msn\n")) }
            if part == .some(nil) || (part != nil && msn == nil) { return .answer(HLSAnswer.text(400, "bad _HLS_part\n")) }
            return .playlist(stream: stream, token: String(token), msn: msn ?? nil, part: part ?? nil)
        case .file(let stream, let token, let file):
            return .file(file, stream: stream, token: token, counted: call.method == "GET")
        }
    }

    /// The answer when it needs no waiting (most requests: playlists and files found in the
    /// segmenter's snapshot), on the calling thread; nil when the request must be admitted
    /// (a new session) or wait (a blocking reload, a preload hint, a stream's first segment).
    func answerNow(_ call: HTTPCall) -> HTTPAnswer? {
        switch parse(call) {
        case .answer(let answer): return answer
        case .newSession: return nil
        case .playlist(let stream, let token, let msn, let part): return playlistNow(stream, token: token, msn: msn, part: part)
        case .file(let file, let stream, let token, let counted): return fileNow(file, stream: stream, token: token, counted: counted)
        }
    }

    func handle(_ call: HTTPCall) async -> HTTPAnswer {
        switch parse(call) {
        case .answer(let answer):
            return answer
        case .newSession(let stream, let params):
            return await newSession(stream, params: params, call: call)
        case .playlist(let stream, let token, let msn, let part):
            if let answer = playlistNow(stream, token: token, msn: msn, part: part) { return answer }
            return await playlistLater(stream, token: token, msn: msn, part: part)
        case .file(let file, let stream, let token, let counted):
            if let answer = fileNow(file, stream: stream, token: token, counted: counted) { return answer }
            return await fileLater(file, stream: stream, token: token, counted: counted)
        }
    }

    // MARK: sessions

    /// `STREAM.m3u8` without a session: admission (on_play, limits, play_wait), then a session
    /// and the multivariant playlist that points at its media playlist.
    private func newSession(_ stream: String, params: [String: String], call: HTTPCall) async -> HTTPAnswer {
        guard registry.sessionCount < Self.maxSessions else {
            logger.warning("HLS session from \(call.remoteIP) refused: \(Self.maxSessions) sessions open")
            return HLSAnswer.text(503, "too many HLS sessions\n")
        }
        let format = HLSFormat(query: params["format"], fmp4Default: config.fmp4Default)
        let token = HLSRegistry.newToken()
        let info = SessionInfo(sessionID: token, protocolName: format.protocolName, remoteAddress: call.remoteIP,
                               params: params)
        let source: Source
        switch await context.admitPlayer(PlayRequest(streamID: stream, session: info), on: group.next()) {
        case .success(let admitted): source = admitted
        case .failure(let refusal): return refuse(refusal, info: info)
        }
        for _ in 0..<3 {
            let hls = registry.stream(for: source, format: format) { makeStream(source, format: format) }
            let answer = await Self.onLoop(source.eventLoop) { [self] () -> NewSession in
                let session = HLSSession(id: context.nextID(), token: token, info: info, stream: hls,
                                         timeoutMs: config.sessionTimeoutMs)
                switch hls.add(session) {
                case .streamClosed: return .retry
                case .refused: return .answer(HLSAnswer.text(503, "stream cannot take players now\n"))
                case .added: return .answer(multivariant(hls, stream: stream, token: token))
                }
            }
            switch answer {
            case .answer(let answer): return answer
            case .retry: continue
            }
        }
        return HLSAnswer.text(503, "stream unavailable\n")
    }

    private enum NewSession: Sendable {
        case answer(HTTPAnswer)
        /// The stream found was closing: ask the registry again.
        case retry
    }

    private func makeStream(_ source: Source, format: HLSFormat) -> HLSStream {
        let segmenter = HLSSegmenter(id: context.nextID(), eventLoop: source.eventLoop,
                                     config: HLSWindowConfig(format: format, config: config), memory: context.memory)
        return HLSStream(source: source, format: format, segmenter: segmenter, muxer: muxers.factory(format),
                         registry: registry, logger: logger)
    }

    /// On the source's loop, right after the session attached.
    private func multivariant(_ hls: HLSStream, stream: String, token: String) -> HTTPAnswer {
        let (tracks, bitrateIn) = hls.source.assumeIsolated { ($0.streams, $0.snapshot().bitrateIn) }
        let codecs = tracks.compactMap(muxers.codecString)
        let video = tracks.first { $0.video != nil }?.video
        let input = bitrateIn.isFinite ? Int(min(max(bitrateIn, 0), 1e12) * 1.1) : 0
        let measured = max(hls.segmenter.window.peakBitrate ?? 0, input)
        let uri = "\(Self.lastComponent(stream)).m3u8?session=\(token)" + (hls.format == .fmp4 ? "&format=fmp4" : "")
        let text = HLSPlaylist.multivariant(mediaURI: uri, bandwidth: measured > 0 ? measured : 2_000_000, codecs: codecs,
                                            resolution: video.map { ($0.width, $0.height) },
                                            version: HLSPlaylist.version(hls.segmenter.window.config))
        return HLSAnswer.playlist(text)
    }

    private func refuse(_ refusal: PlayRefusal, info: SessionInfo) -> HTTPAnswer {
        switch refusal {
        case .invalidStreamID:
            return HLSAnswer.text(400, "bad stream id\n")
        case .denied(let decision):
            logger.warning("\(info.protocolName) play from \(info.remoteAddress) refused: \(refusal)")
            return HLSAnswer.text(decision.deniedHTTPStatus == 401 ? 401 : 403, "play denied: \(decision.reason)\n")
        case .notFound(let id):
            logger.info("\(info.protocolName) play of unknown stream \(id) from \(info.remoteAddress)")
            return HLSAnswer.text(404, "stream not found\n")
        }
    }

    // MARK: playlists and files

    /// `STREAM.m3u8?session=ID[&_HLS_msn=M[&_HLS_part=P]]` from the segmenter's snapshot when
    /// it has what is asked; nil: wait (`playlistLater`).
    private func playlistNow(_ stream: String, token: String, msn: Int?, part: Int?) -> HTTPAnswer? {
        guard let session = session(token, stream: stream) else { return HLSAnswer.notFound }
        guard let snapshot = session.stream.segmenter.snapshot else { return nil }
        guard let wait = Self.playlistWait(snapshot.window, msn: msn, part: part) else { return Self.tooFarAhead }
        guard snapshot.window.isSatisfied(wait) else { return nil }
        return HLSAnswer.playlist(snapshot.playlist.render(uriPrefix: Self.filesPrefix(stream, token: token)))
    }

    /// Waits on the segmenter's loop for the first segment or what a blocking reload asks (400
    /// when too far ahead, 503 after three target durations).
    private func playlistLater(_ stream: String, token: String, msn: Int?, part: Int?) async -> HTTPAnswer {
        guard let session = session(token, stream: stream) else { return HLSAnswer.notFound }
        let segmenter = session.stream.segmenter
        let prefix = Self.filesPrefix(stream, token: token)
        return await onLoop(session) { finish in
            guard let wait = Self.playlistWait(segmenter.window, msn: msn, part: part) else { return finish(Self.tooFarAhead) }
            segmenter.wait(for: wait, timeoutMs: segmenter.window.blockingTimeoutMs) { outcome in
                switch outcome {
                case .ready:
                    session.touch()
                    guard let snapshot = segmenter.snapshot else { return finish(HLSAnswer.notFound) }
                    finish(HLSAnswer.playlist(snapshot.playlist.render(uriPrefix: prefix)))
                case .timedOut: finish(HLSAnswer.text(503, "playlist not updated in time\n"))
                case .overloaded: finish(HLSAnswer.text(503, "too many requests waiting\n"))
                case .ended: finish(HLSAnswer.notFound)
                }
            }
        }
    }

    private static var tooFarAhead: HTTPAnswer { HLSAnswer.text(400, "_HLS_msn/_HLS_part too far ahead of the playlist\n") }

    /// What a playlist request waits for: the first segment, or what its blocking reload asks;
    /// nil when that is too far ahead (400).
    static func playlistWait(_ window: HLSSegmentWindow, msn: Int?, part: Int?) -> HLSWait? {
        guard let msn else { return .anySegment }
        guard window.acceptsReload(msn: msn, part: part) else { return nil }
        if let part, window.config.lowLatency { return .part(msn: msn, part: part) }
        return .segment(msn)
    }

    /// A segment, part or init segment from the snapshot; nil: a part not cut yet (`fileLater`).
    private func fileNow(_ file: HLSFile, stream: String, token: String, counted: Bool) -> HTTPAnswer? {
        guard let session = session(token, stream: stream) else { return HLSAnswer.notFound }
        guard let snapshot = session.stream.segmenter.snapshot else { return HLSAnswer.notFound }
        return Self.file(file, in: snapshot.window, session: session, counted: counted)
    }

    /// Only the part a preload hint names (or the next segment's first) waits until it is cut.
    private func fileLater(_ file: HLSFile, stream: String, token: String, counted: Bool) async -> HTTPAnswer {
        guard let session = session(token, stream: stream), case .part(let msn, let index) = file else { return HLSAnswer.notFound }
        let segmenter = session.stream.segmenter
        return await onLoop(session) { finish in
            let window = segmenter.window
            if let answer = Self.file(file, in: window, session: session, counted: counted) { return finish(answer) }
            guard window.isNextPart(msn, index) else { return finish(HLSAnswer.notFound) }
            segmenter.wait(for: .part(msn: msn, part: index), timeoutMs: window.blockingTimeoutMs) { outcome in
                switch outcome {
                case .ready:
                    session.touch()
                    finish(Self.file(file, in: segmenter.window, session: session, counted: counted) ?? HLSAnswer.notFound)
                case .timedOut, .overloaded: finish(HLSAnswer.text(503, "part not ready in time\n"))
                case .ended: finish(HLSAnswer.notFound)
                }
            }
        }
    }

    /// The file from `window`: its bytes, 404 when it cannot exist, nil for a part not cut yet.
    static func file(_ file: HLSFile, in window: HLSSegmentWindow, session: HLSSession, counted: Bool) -> HTTPAnswer? {
        let format = window.config.format
        func send(_ buffers: [ByteBuffer], _ type: String) -> HTTPAnswer {
            if counted { session.served(buffers.reduce(0) { $0 &+ $1.readableBytes }) }
            return HLSAnswer.media(buffers, contentType: type)
        }
        switch file {
        case .segment(let msn, let asked):
            guard asked == format, let segment = window.segment(msn) else { return HLSAnswer.notFound }
            return send(segment.buffers, format.segmentContentType)
        case .initSegment(let id):
            guard format == .fmp4, let bytes = window.inits[id] else { return HLSAnswer.notFound }
            return send([bytes], "video/mp4")
        case .part(let msn, let index):
            guard window.config.lowLatency else { return HLSAnswer.notFound }
            return window.part(msn, index).map { send([$0.bytes], format.segmentContentType) }
        }
    }

    /// The live session `token` of `stream` (refreshed), or nil: 404.
    private func session(_ token: String, stream: String) -> HLSSession? {
        guard let session = registry.session(token), !session.isGone, session.stream.source.id == stream else { return nil }
        session.touch()
        return session
    }

    /// Runs `body` on the session's loop; 404 when the session ended meanwhile. `finish` must be
    /// called once.
    private func onLoop(_ session: HLSSession,
                        _ body: @escaping @Sendable (@escaping (HTTPAnswer) -> Void) -> Void) async -> HTTPAnswer {
        await withCheckedContinuation { (continuation: CheckedContinuation<HTTPAnswer, Never>) in
            session.eventLoop.execute {
                guard !session.isGone else { return continuation.resume(returning: HLSAnswer.notFound) }
                body { continuation.resume(returning: $0) }
            }
        }
    }

    /// Where a session's files are, relative to its playlist: `STREAM.hls/TOKEN/`.
    static func filesPrefix(_ stream: String, token: String) -> String {
        "\(lastComponent(stream))\(HLSPath.filesMarker)\(token)/"
    }

    /// `cam` of `live/cam`.
    static func lastComponent(_ stream: String) -> Substring {
        let utf8 = stream.utf8
        guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return stream[...] }
        return stream[utf8.index(after: slash)...]
    }

    /// Server stop: every session ends (on_play_done) and the segmenters leave.
    func endAll() async {
        for hls in registry.streams {
            await Self.onLoop(hls.eventLoop) { hls.endAll() }
        }
    }

    /// Runs `body` on `loop` and returns its result through a continuation the loop resumes (no
    /// EventLoopFuture: nothing to allocate, and no callback registered from off the loop).
    private static func onLoop<T: Sendable>(_ loop: any EventLoop, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            loop.execute { continuation.resume(returning: body()) }
        }
    }
}

/// The answers HLS gives.
enum HLSAnswer {
    static let playlistType = "application/vnd.apple.mpegurl"

    static func playlist(_ text: String) -> HTTPAnswer {
        playlist(ByteBuffer(string: text))
    }

    static func playlist(_ bytes: ByteBuffer) -> HTTPAnswer {
        HTTPAnswer(status: 200, contentType: playlistType, buffers: [bytes], headers: noCache)
    }

    private static let noCache = [("Cache-Control", "no-cache")]
    private static let maxAge = [("Cache-Control", "max-age=60")]

    /// Segments, parts and init segments never change under their URL (a session's own).
    static func media(_ buffers: [ByteBuffer], contentType: String) -> HTTPAnswer {
        HTTPAnswer(status: 200, contentType: contentType, buffers: buffers, headers: maxAge)
    }

    static func text(_ status: Int, _ body: String, headers: [(String, String)] = []) -> HTTPAnswer {
        HTTPAnswer(status: status, contentType: "text/plain", buffers: [ByteBuffer(string: body)],
                   headers: [("Cache-Control", "no-cache")] + headers)
    }

    static var notFound: HTTPAnswer { text(404, "not found\n") }
}
