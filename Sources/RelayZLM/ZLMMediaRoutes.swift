import Foundation
import RelayCore
import RelayGB28181

/// The stream routes (getMediaList, isMediaOnline, getMediaInfo, close_streams, kick_session)
/// on the stream registry. The dialect has one media source per stream and protocol ("schema");
/// here a ready stream is one entry per schema it plays in: "rtmp" (RTMP and HTTP-FLV players)
/// when either listener is on, and "rtsp" always, since GB platforms track a stream by its rtsp
/// registration even where RTSP is not served.
extension ZLMFacade {
    static let mediaRoutes: [(String, Route)] = [
        ("getMediaList", { try await $0.getMediaList($1) }),
        ("isMediaOnline", { try await $0.isMediaOnline($1) }),
        ("getMediaInfo", { try await $0.getMediaInfo($1) }),
        ("close_streams", { try await $0.closeStreams($1) }),
        ("kick_session", { try await $0.kickSession($1) }),
    ]

    /// A ready stream in one schema.
    struct MediaEntry: Sendable {
        var schema: String
        var source: Source
        var snapshot: SourceSnapshot
    }

    /// The schemas a stream is listed under.
    var schemas: [String] {
        let p = ports()
        return (p["rtmp"] != nil || p["http_flv"] != nil ? ["rtmp"] : []) + ["rtsp"]
    }

    /// Ready streams matching the dialect's filters (empty = any), one entry per schema.
    func mediaEntries(schema: String?, vhost: String?, app: String?, stream: String?) async -> [MediaEntry] {
        if let vhost, vhost != ZLMName.vhost { return [] }
        let schemas = self.schemas.filter { schema == nil || $0 == schema?.lowercased() }
        guard !schemas.isEmpty else { return [] }
        let sources = context.registry.sources.filter { s in
            let name = ZLMName.split(s.id)
            return (app == nil || name.app == app) && (stream == nil || name.stream == stream)
        }
        let snapshots = await withTaskGroup(of: (Source, SourceSnapshot).self) { group in
            for source in sources { group.addTask { (source, await source.snapshot()) } }
            var out: [(Source, SourceSnapshot)] = []
            for await pair in group where pair.1.isReady { out.append(pair) }
            return out.sorted { $0.1.id < $1.1.id }
        }
        return snapshots.flatMap { pair in schemas.map { MediaEntry(schema: $0, source: pair.0, snapshot: pair.1) } }
    }

    /// One media source as the dialect describes it (WebApi.cpp `makeMediaSourceJson`).
    func mediaJSON(_ e: MediaEntry, receivers: [GBReceiverInfo]) -> [String: JSONValue] {
        let s = e.snapshot
        let (app, stream) = ZLMName.split(s.id)
        let origin = ZLMName.origin(s.publisher.protocolName)
        let alive = s.uptimeSeconds.isFinite ? max(0, s.uptimeSeconds) : 0
        let created = Date().timeIntervalSince1970 - alive
        let bytesSpeed = s.bitrateIn.isFinite ? max(0, s.bitrateIn / 8) : 0
        var o: [String: JSONValue] = [
            "schema": .string(e.schema), "vhost": .string(ZLMName.vhost), "app": .string(app), "stream": .string(stream),
            "params": .string(ZLMName.query(s.publisher.params)),
            "createStamp": .whole(Int(created)), "aliveSecond": .whole(Int(alive)),
            "bytesSpeed": .whole(Int(bytesSpeed.rounded())), "totalBytes": .whole(s.bytesIn),
            "readerCount": .whole(Self.readers(s, schema: e.schema)), "totalReaderCount": .whole(s.players.values.reduce(0, +)),
            "originType": .whole(origin.type), "originTypeStr": .string(origin.name),
            "originUrl": .string(originURL(s, receivers: receivers)),
            "isRecordingMP4": .bool(false), "isRecordingHLS": .bool(false),
            "tracks": ZLMTracks.tracks(s.tracks, fps: s.videoFPS.isFinite ? s.videoFPS : 0),
        ]
        if let peer = ZLMName.hostPort(s.publisher.remoteAddress) {
            o["originSock"] = .object(["peer_ip": .string(peer.host), "peer_port": .whole(peer.port),
                                       "identifier": .string(s.publisher.sessionID)])
        } else {
            o["originSock"] = .null
        }
        return o
    }

    /// Players of the schema: RTMP and HTTP-FLV for "rtmp", RTSP for "rtsp".
    static func readers(_ s: SourceSnapshot, schema: String) -> Int {
        s.players.reduce(0) { sum, pair in
            switch (schema, pair.key) {
            case ("rtmp", .rtmp), ("rtmp", .flv), ("rtsp", .rtsp): return sum + pair.value
            default: return sum
            }
        }
    }

    /// `schema://vhost/app/stream` of the ingest (MediaInfo::getUrl). An RTP stream keeps its
    /// receiver's open-time id even when on_publish renamed it, as the dialect's RtpProcess does:
    /// platforms recover the SSRC from its `/rtp/<hex>` tail.
    func originURL(_ s: SourceSnapshot, receivers: [GBReceiverInfo]) -> String {
        switch s.publisher.protocolName {
        case "gb28181":
            let r = receivers.first { $0.streamID == s.id || $0.publishedAs == s.id }
            return "rtp://\(ZLMName.vhost)/\(r?.streamID ?? s.id)"
        case "jt1078": return "rtp://\(ZLMName.vhost)/\(s.id)"
        default: return "\(s.publisher.protocolName)://\(ZLMName.vhost)/\(s.id)"
        }
    }

    /// getMediaList(schema?, vhost?, app?, stream?) → `data: [media]`.
    func getMediaList(_ p: ZLMParams) async throws -> ZLMResult {
        let entries = await mediaEntries(schema: p["schema"], vhost: p["vhost"], app: p["app"], stream: p["stream"])
        let receivers = gb28181.list()
        return .json(["data": .array(entries.map { .object(mediaJSON($0, receivers: receivers)) })])
    }

    /// isMediaOnline(schema, vhost, app, stream) → `{online}`.
    func isMediaOnline(_ p: ZLMParams) async throws -> ZLMResult {
        try p.require("schema", "vhost", "app", "stream")
        let entries = await mediaEntries(schema: p["schema"], vhost: p["vhost"], app: p["app"], stream: p["stream"])
        return .json(["online": .bool(!entries.isEmpty)])
    }

    /// getMediaInfo(schema, vhost, app, stream) → the media's fields at the top level with
    /// `online: true`; -500 with `online: false` when not ready.
    func getMediaInfo(_ p: ZLMParams) async throws -> ZLMResult {
        try p.require("schema", "vhost", "app", "stream")
        let entries = await mediaEntries(schema: p["schema"], vhost: p["vhost"], app: p["app"], stream: p["stream"])
        guard let entry = entries.first else {
            throw ZLMFailure(.notFound, "can not find the stream", fields: ["online": .bool(false)])
        }
        var o = mediaJSON(entry, receivers: gb28181.list())
        o["online"] = .bool(true)
        return .json(o)
    }

    /// close_streams(schema?, vhost?, app?, stream?, force) → `{count_hit, count_closed}`:
    /// hits count per schema entry as in the dialect; without `force` a stream with readers
    /// stays (`MediaSource::close(force)`), and `count_closed` counts the entries really closed.
    func closeStreams(_ p: ZLMParams) async throws -> ZLMResult {
        let force = try p.bool("force")
        let entries = await mediaEntries(schema: p["schema"], vhost: p["vhost"], app: p["app"], stream: p["stream"])
        var closed: Set<String> = []
        var countClosed = 0
        for e in entries {
            let readers = e.snapshot.players.values.reduce(0, +)
            guard force || readers == 0 else { continue }
            if closed.insert(e.snapshot.id).inserted {
                await e.source.close(reason: "closed by close_streams")
                logger.info("zlm close_streams: closed \(e.snapshot.id)")
            }
            countClosed += 1
        }
        return .json(["count_hit": .whole(entries.count), "count_closed": .whole(countClosed)])
    }

    /// kick_session(id): closes the player with that id (the admin API's player ids); -1 "can
    /// not find the target" when none (WebApi.cpp).
    func kickSession(_ p: ZLMParams) async throws -> ZLMResult {
        let text = try p.required("id")
        guard let n = ZLMParams.integer(text), n > 0, let id = SinkID(exactly: n) else {
            throw ZLMFailure(.invalidArgs, "'id' must be a player id (a positive integer), got '\(printableStreamID(text))'")
        }
        for source in context.registry.sources {
            guard await source.kick(id, reason: "kicked by kick_session") else { continue }
            logger.info("zlm kick_session: player \(id) of \(source.id)")
            return .json([:])
        }
        throw ZLMFailure(.otherFailed, "can not find the target")
    }
}
