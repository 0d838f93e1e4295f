import Foundation
import Hummingbird
import NIOCore
import RelayCore

extension AdminAPI {
    // MARK: gathering

    /// A live source with its snapshot (and its players' when asked for).
    struct Live: Sendable {
        var source: Source
        var snapshot: SourceSnapshot
        var players: [PlayerSnapshot]
    }

    /// Every live source's snapshot, taken concurrently (one hop to each source's loop, plus one
    /// per player when `players`).
    func gather(players: Bool) async -> [Live] {
        let sources = env.context.registry.sources
        return await gather(sources, players: players)
    }

    func gather(_ sources: [Source], players: Bool) async -> [Live] {
        await withTaskGroup(of: Live.self) { group in
            for source in sources {
                group.addTask {
                    let snapshot = await source.snapshot()
                    let list = players ? await source.playerSnapshots() : []
                    return Live(source: source, snapshot: snapshot, players: list)
                }
            }
            var out: [Live] = []
            out.reserveCapacity(sources.count)
            for await live in group { out.append(live) }
            return out.sorted { $0.snapshot.id < $1.snapshot.id }
        }
    }

    func uptime() -> Double { finite(Date().timeIntervalSince(env.startedAt)) }

    // MARK: server

    func serverInfo(_ request: Request, _ context: Context) async throws -> Response {
        let c = env.context.config
        #if os(Linux)
        let os = "linux"
        #elseif os(macOS)
        let os = "macos"
        #else
        let os = "other"
        #endif
        #if arch(x86_64)
        let arch = "x86_64"
        #elseif arch(arm64)
        let arch = "arm64"
        #else
        let arch = "other"
        #endif
        let info = ServerInfo(
            name: "LiveRelay", version: RelayVersion.version,
            build: .init(configuration: RelayVersion.configuration, os: os, arch: arch),
            pid: Int(ProcessInfo.processInfo.processIdentifier),
            startedAt: iso8601(env.startedAt), uptimeSeconds: uptime(),
            listeners: listeners(),
            config: .init(logLevel: c.logLevel, eventLoops: env.eventLoopThreads, gopCache: c.source.gopCache,
                          mergeWriteMs: c.source.mergeWrite.configValue, slowPolicy: c.player.slowPolicy,
                          maxPendingBytes: c.player.maxPendingBytes,
                          hooks: HookEvent.allCases.map(\.rawValue).filter { env.context.hasHookNamed($0) },
                          adminToken: !config.token.isEmpty, configFile: env.configPath,
                          protocols: env.protocols.serverConfig))
        return try json(info)
    }

    /// Every listener by name (the admin's own among them), then the protocols' receive ports.
    func listeners() -> [ServerInfo.Listener] {
        var bound = env.protocols.listeners
        if let port { bound.append(BoundListener(name: "admin", host: config.listener.host, port: port)) }
        bound.sort { $0.name < $1.name }
        return (bound + env.protocols.receivePorts).map {
            ServerInfo.Listener(name: $0.name, transport: $0.transport, host: $0.host, port: $0.port)
        }
    }

    func stats(_ request: Request, _ context: Context) async throws -> Response {
        let live = await gather(players: true)
        let totals = env.context.totals.snapshot
        var publishers: [String: Int] = [:]
        var players: [String: Int] = [:]
        var bytesIn = totals.bytesIn
        var bytesOut = totals.bytesOut
        for l in live {
            let proto = l.snapshot.publisher.protocolName
            publishers[proto, default: 0] += 1
            bytesIn[proto, default: 0] &+= l.snapshot.bytesIn
            for p in l.players {
                let pp = protocolOf(p)
                players[pp, default: 0] += 1
                bytesOut[pp, default: 0] &+= p.bytesSent
            }
        }
        let connections = publishers.merging(players, uniquingKeysWith: +)
        let proc = ProcStats.current()
        let s = Stats(
            uptimeSeconds: uptime(), streams: live.count, players: players.values.reduce(0, +),
            connections: .init(total: connections.values.reduce(0, +), publishers: publishers.values.reduce(0, +),
                               players: players.values.reduce(0, +), byProtocol: connections),
            bytesIn: ByProtocol(total: bytesIn.values.reduce(0, &+), byProtocol: bytesIn),
            bytesOut: ByProtocol(total: bytesOut.values.reduce(0, &+), byProtocol: bytesOut),
            process: .init(cpuSeconds: finite(proc.cpuSeconds), rssBytes: proc.rssBytes, peakRSSBytes: proc.peakRSSBytes,
                           threads: proc.threads),
            protocols: env.protocols.stats)
        return try json(s)
    }

    // MARK: streams

    func streamInfo(_ l: Live) -> StreamInfo {
        let s = l.snapshot
        var byProtocol: [String: Int] = [:]
        for (kind, n) in s.players { byProtocol[kind.protocolName, default: 0] += n }
        let total = byProtocol.values.reduce(0, +)
        let tracks = s.tracks.map { t -> TrackInfo in
            var info = TrackInfo(index: t.index, kind: t.kind == .video ? "video" : "audio", codec: t.codec.rawValue)
            if let v = t.video {
                info.width = v.width
                info.height = v.height
                info.profile = v.profile
                info.level = v.level
            }
            if t.kind == .video {
                info.fps = (finite(s.videoFPS) * 100).rounded() / 100
                info.gopFrames = s.gopFrames
            }
            if let a = t.audio {
                info.sampleRate = a.sampleRate
                info.channels = a.channels
            }
            return info
        }
        let bitrateIn = finite(s.bitrateIn).rounded()
        return StreamInfo(
            id: s.id, ready: s.isReady, recording: s.recording, uptimeSeconds: finite(s.uptimeSeconds),
            publisher: .init(protocol: s.publisher.protocolName, address: s.publisher.remoteAddress,
                             sessionID: s.publisher.sessionID),
            tracks: tracks, bitrateInBps: bitrateIn, bitrateOutBps: bitrateIn * Double(total),
            bytesIn: s.bytesIn, packetsIn: s.packetsIn, bytesOut: l.players.reduce(0) { $0 &+ $1.bytesSent },
            players: .init(total: total, byProtocol: byProtocol),
            outputs: s.outputs.map { OutputInfo(output: $0.kind.description, sinks: $0.sinks, mergeWindowMs: $0.mergeWindowMs) })
    }

    func listStreams(_ request: Request, _ context: Context) async throws -> Response {
        let live = await gather(players: true)
        return try json(StreamList(count: live.count, streams: live.map(streamInfo)))
    }

    func source(_ context: Context) throws -> Source {
        let id = try streamID(context)
        guard let source = env.context.registry.source(id) else { throw AdminError(.notFound, "no stream \(id)") }
        return source
    }

    func getStream(_ request: Request, _ context: Context) async throws -> Response {
        let source = try source(context)
        let live = await gather([source], players: true)
        return try json(streamInfo(live[0]))
    }

    func closeStream(_ request: Request, _ context: Context) async throws -> Response {
        let source = try source(context)
        await source.close(reason: "closed by the admin API")
        context.logger.info("admin API closed stream \(source.id)")
        return try json(StreamClosed(stream: source.id, closed: true))
    }

    // MARK: players

    func protocolOf(_ p: PlayerSnapshot) -> String { p.session?.protocolName ?? p.kind.protocolName }

    func playerInfo(_ p: PlayerSnapshot, stream: String, now: Date) -> PlayerInfo {
        PlayerInfo(id: p.id, stream: stream, protocol: protocolOf(p), kind: p.kind.description, address: p.session?.remoteAddress,
                   sessionID: p.session?.sessionID, bytesSent: p.bytesSent, pendingBytes: p.pendingBytes,
                   segmentsDropped: p.segmentsDropped, seconds: finite(p.seconds),
                   since: iso8601(now.addingTimeInterval(-finite(p.seconds))))
    }

    func listPlayers(_ request: Request, _ context: Context) async throws -> Response {
        let params = try queryParameters(request)
        let sources: [Source]
        if let id = params["stream"] {
            guard isValidStreamID(id) else { throw AdminError(.badRequest, "'\(printable(id))' is not a valid stream id") }
            guard let s = env.context.registry.source(id) else { throw AdminError(.notFound, "no stream \(id)") }
            sources = [s]
        } else {
            sources = env.context.registry.sources
        }
        let now = Date()
        let players = await gather(sources, players: true).flatMap { l in
            l.players.map { playerInfo($0, stream: l.snapshot.id, now: now) }
        }
        return try json(PlayerList(count: players.count, players: players))
    }

    func playerID(_ context: Context) throws -> SinkID {
        let raw = context.parameters.get("id") ?? ""
        guard let id = SinkID(raw), raw.allSatisfy(\.isASCII) else {
            throw AdminError(.badRequest, "'\(printable(raw))' is not a player id (a positive integer)")
        }
        return id
    }

    /// The player and the source it plays.
    func findPlayer(_ id: SinkID) async -> (Source, PlayerSnapshot)? {
        for l in await gather(players: true) {
            if let p = l.players.first(where: { $0.id == id }) { return (l.source, p) }
        }
        return nil
    }

    func getPlayer(_ request: Request, _ context: Context) async throws -> Response {
        let id = try playerID(context)
        guard let (source, player) = await findPlayer(id) else { throw AdminError(.notFound, "no player \(id)") }
        return try json(playerInfo(player, stream: source.id, now: Date()))
    }

    func kickPlayer(_ request: Request, _ context: Context) async throws -> Response {
        let id = try playerID(context)
        guard let (source, player) = await findPlayer(id) else { throw AdminError(.notFound, "no player \(id)") }
        guard await source.kick(id, reason: "kicked by the admin API") else {
            throw AdminError(.conflict, "player \(id) (\(protocolOf(player))) cannot be kicked")
        }
        context.logger.info("admin API kicked player \(id) of \(source.id)")
        return try json(PlayerKicked(id: id, stream: source.id, kicked: true))
    }

    // MARK: metrics

    func metrics(_ request: Request, _ context: Context) async throws -> Response {
        let live = await gather(players: true)
        let totals = env.context.totals.snapshot
        var f = ScrapeMetrics.Figures()
        f.streams = live.count
        f.readyStreams = live.filter(\.snapshot.isReady).count
        f.bytesIn = totals.bytesIn
        f.bytesOut = totals.bytesOut
        for l in live {
            let proto = l.snapshot.publisher.protocolName
            f.publishers[proto, default: 0] += 1
            f.bytesIn[proto, default: 0] &+= l.snapshot.bytesIn
            for p in l.players {
                let pp = protocolOf(p)
                f.players[pp, default: 0] += 1
                f.bytesOut[pp, default: 0] &+= p.bytesSent
            }
        }
        f.gauges = env.protocols.gauges
        f.uptimeSeconds = uptime()
        f.process = ProcStats.current()
        let text = AdminMetrics.events.emitToString() + scrape.render(f)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

extension RelayContext {
    func hasHookNamed(_ name: String) -> Bool {
        guard let event = HookEvent(rawValue: name) else { return false }
        return hasHook(event)
    }
}
