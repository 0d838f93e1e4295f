import NIOCore
import RelayCore

/// The cascade-sender endpoints of the admin API (`/api/v1/gb28181/senders`): start a sender of
/// a live stream, list them, stop them.
extension GB28181Service {
    var senderEndpoints: [AdminEndpoint] {
        [
            AdminEndpoint(.get, "/api/v1/gb28181/senders") { _ in try self.listSenders(nil) },
            AdminEndpoint(.post, "/api/v1/gb28181/senders") { try await self.startSender($0) },
            AdminEndpoint(.get, "/api/v1/gb28181/senders/{stream}") { try self.listSenders($0.stream()) },
            AdminEndpoint(.delete, "/api/v1/gb28181/senders/{stream}") { try await self.stopSenders($0) },
        ]
    }

    /// `relay_gb28181_senders{state}` and `relay_gb28181_sender_bytes` (bytes all senders have
    /// sent; only grows). For `gauges` in GBAdmin.swift.
    var senderGauges: [ModuleGauge] {
        let table = senderTable
        var byState: [String: Int] = [:]
        for s in table.senders { byState[s.shared.withLockedValue { $0.state.rawValue }, default: 0] += 1 }
        return ["connecting", "listening", "sending"].map { state in
            ModuleGauge(name: "relay_gb28181_senders", help: "GB28181 cascade senders by state", labels: [("state", state)],
                        value: Double(byState[state] ?? 0))
        } + [ModuleGauge(name: "relay_gb28181_sender_bytes", help: "Bytes sent by GB28181 cascade senders",
                         value: Double(table.bytesSent))]
    }

    // MARK: the Swift API (a facade's, and the endpoints')

    /// Starts a sender of a live stream: udp sends at once, tcp-active dials `dest`, tcp-passive
    /// listens (its `localPort` answered). Throws `GBSenderError`.
    public func startSender(_ request: GBSenderRequest) async throws -> GBSenderInfo {
        guard config.enabled else { throw GBSenderError.disabled }
        try request.validate()
        guard let source = context.registry.source(request.stream), await source.isReady, !(await source.isClosed) else {
            throw GBSenderError.notLive(request.stream)
        }
        let sender = GBSender(id: context.nextID(), request: request, source: source, context: context, table: senderTable,
                              host: config.host, ports: portRange)
        try senderTable.reserve(sender)
        try await sender.start()
        return sender.info
    }

    /// Stops the senders of `stream` (those with `ssrc` / to `dest` when given); returns how many.
    public func stopSenders(stream: String, ssrc: UInt32?, dest: String?) async -> Int {
        await stop(stream: stream, ssrc: ssrc, dest: dest).count
    }

    /// The senders (of `stream` when given), in the order they were started.
    public func senders(stream: String?) -> [GBSenderInfo] {
        senderTable.senders.filter { stream == nil || $0.request.stream == stream }.map(\.info)
    }

    /// Stops the picked senders; their final state, with the reason.
    private func stop(stream: String, ssrc: UInt32?, dest: String?) async -> [GBSenderInfo] {
        let picked = senderTable.senders.filter {
            $0.request.stream == stream && (ssrc == nil || $0.request.ssrc == ssrc) && (dest == nil || $0.request.dest == dest)
        }
        for s in picked { await s.stopNow("stopped by the admin API") }
        return picked.map(\.info)
    }

    // MARK: endpoints

    func senderBody(_ s: GBSenderInfo, ip: String) -> GBSenderBody {
        GBSenderBody(id: s.id, stream: s.stream, ssrc: s.ssrcString, dest: s.dest, mode: s.mode.rawValue,
                     payloadType: Int(s.payloadType), audioOnly: s.audioOnly ? true : nil, state: s.state.rawValue,
                     ip: s.mode == .tcpPassive ? ip : nil, port: s.localPort, peer: s.peer, reason: s.reason,
                     bytesSent: s.bytesSent, packetsSent: s.packetsSent, segmentsDropped: s.segmentsDropped, seconds: s.seconds)
    }

    func listSenders(_ stream: String?) throws -> AdminReply {
        try enabledForAdmin()
        let ip = announcedIP()
        let list = senders(stream: stream).map { senderBody($0, ip: ip) }
        if let stream, list.isEmpty { throw AdminFailure.notFound("no GB28181 sender of \(stream)") }
        return AdminReply(GBSenderList(count: list.count, senders: list))
    }

    func startSender(_ request: AdminRequest) async throws -> AdminReply {
        guard let body = try await request.body() else {
            throw AdminFailure.badRequest("a JSON body is required: {\"stream\", \"ssrc\", \"dest\", \"mode\", \"payload_type\"}")
        }
        let open = try GBSenderRequest(body)
        try enabledForAdmin()
        let info: GBSenderInfo
        do {
            info = try await startSender(open)
        } catch let error as GBSenderError {
            throw error.adminFailure
        }
        request.logger.info("admin API started GB28181 sender \(info.id) of \(open.stream) (\(open.mode))")
        return AdminReply(status: 201, senderBody(info, ip: announcedIP()))
    }

    /// Stops the stream's senders; `?ssrc=…&dest=…` (or a body `{"ssrc", "dest"}`, for clients
    /// that send one) picks among them.
    func stopSenders(_ request: AdminRequest) async throws -> AdminReply {
        try enabledForAdmin()
        let stream = try request.stream()
        var body = try await request.body() ?? [:]
        for (key, value) in request.query { body[key] = .string(value) }
        try GBAdminField.rejectUnknown(body, allowed: ["ssrc", "dest"], expected: "ssrc and dest, which pick the senders to stop")
        let ssrc = try GBAdminField.ssrc(body)
        var dest: String?
        switch body["dest"] {
        case nil: break
        case .string(let text)?: dest = text
        case let other?: throw AdminFailure.badRequest("'dest' must be a \"host:port\" string, got \(other.kindDescription)")
        }
        let stopped = await stop(stream: stream, ssrc: ssrc, dest: dest)
        guard !stopped.isEmpty else { throw AdminFailure.notFound("no GB28181 sender of \(stream) matches") }
        let ip = announcedIP()
        let list = stopped.map { senderBody($0, ip: ip) }
        request.logger.info("admin API stopped \(list.count) GB28181 sender(s) of \(stream)")
        return AdminReply(GBSenderList(count: list.count, senders: list))
    }
}

/// A sender as `GET /api/v1/gb28181/senders` shows it (openapi.yaml: GBSender).
struct GBSenderBody: Encodable, Sendable {
    var id: UInt64
    var stream: String
    var ssrc: String
    var dest: String?
    var mode: String
    var payloadType: Int
    /// Present (true) for an audio-only sender.
    var audioOnly: Bool?
    /// connecting, listening, sending, stopped.
    var state: String
    /// tcp-passive: the address and port the upper platform connects to.
    var ip: String?
    var port: Int?
    var peer: String?
    /// Why it stopped (in a DELETE answer).
    var reason: String?
    var bytesSent: UInt64
    var packetsSent: UInt64
    var segmentsDropped: UInt64
    var seconds: Double

    enum CodingKeys: String, CodingKey {
        case id, stream, ssrc, dest, mode, payloadType = "payload_type", audioOnly = "audio_only", state, ip, port, peer, reason
        case bytesSent = "bytes_sent", packetsSent = "packets_sent", segmentsDropped = "segments_dropped", seconds
    }
}

struct GBSenderList: Encodable, Sendable {
    var count: Int
    var senders: [GBSenderBody]
}
