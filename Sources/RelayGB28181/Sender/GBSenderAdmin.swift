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
        let table = senders
        var byState: [String: Int] = [:]
        for s in table.senders { byState[s.shared.withLockedValue { $0.state.rawValue }, default: 0] += 1 }
        return ["connecting", "listening", "sending"].map { state in
            ModuleGauge(name: "relay_gb28181_senders", help: "GB28181 cascade senders by state", labels: [("state", state)],
                        value: Double(byState[state] ?? 0))
        } + [ModuleGauge(name: "relay_gb28181_sender_bytes", help: "Bytes sent by GB28181 cascade senders",
                         value: Double(table.bytesSent))]
    }

    func senderBody(_ s: GBSender, ip: String) -> GBSenderBody {
        let shared = s.shared.withLockedValue { $0 }
        let c = s.counters.withLockedValue { $0 }
        return GBSenderBody(id: s.id, stream: s.request.stream, ssrc: GBSSRC.format(s.request.ssrc), dest: s.request.dest,
                            mode: s.request.mode.rawValue, payloadType: Int(s.request.payloadType), state: shared.state.rawValue,
                            ip: s.request.mode == .tcpPassive ? ip : nil, port: shared.localPort, peer: shared.peer,
                            reason: shared.reason, bytesSent: c.bytes, packetsSent: c.packets, segmentsDropped: c.segmentsDropped,
                            seconds: Double((NIODeadline.now() - s.since).nanoseconds) / 1e9)
    }

    func listSenders(_ stream: String?) throws -> AdminReply {
        try enabledForAdmin()
        let ip = announcedIP()
        let list = senders.senders.filter { stream == nil || $0.request.stream == stream }.map { senderBody($0, ip: ip) }
        if let stream, list.isEmpty { throw AdminFailure.notFound("no GB28181 sender of \(stream)") }
        return AdminReply(GBSenderList(count: list.count, senders: list))
    }

    func startSender(_ request: AdminRequest) async throws -> AdminReply {
        guard let body = try await request.body() else {
            throw AdminFailure.badRequest("a JSON body is required: {\"stream\", \"ssrc\", \"dest\", \"mode\", \"payload_type\"}")
        }
        let open = try GBSenderRequest(body)
        try enabledForAdmin()
        guard let source = context.registry.source(open.stream), await source.isReady, !(await source.isClosed) else {
            throw AdminFailure.notFound("stream \(open.stream) is not live")
        }
        let sender = GBSender(id: context.nextID(), request: open, source: source, context: context, table: senders,
                              host: config.host, ports: config.portMin...max(config.portMin, config.portMax))
        try senders.reserve(sender)
        try await sender.start()
        request.logger.info("admin API started GB28181 sender \(sender.id) of \(open.stream) (\(open.mode))")
        return AdminReply(status: 201, senderBody(sender, ip: announcedIP()))
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
        let picked = senders.senders.filter {
            $0.request.stream == stream && (ssrc == nil || $0.request.ssrc == ssrc) && (dest == nil || $0.request.dest == dest)
        }
        guard !picked.isEmpty else { throw AdminFailure.notFound("no GB28181 sender of \(stream) matches") }
        for s in picked { await s.stopNow("stopped by the admin API") }
        let ip = announcedIP()
        let list = picked.map { senderBody($0, ip: ip) }
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
        case id, stream, ssrc, dest, mode, payloadType = "payload_type", state, ip, port, peer, reason
        case bytesSent = "bytes_sent", packetsSent = "packets_sent", segmentsDropped = "segments_dropped", seconds
    }
}

struct GBSenderList: Encodable, Sendable {
    var count: Int
    var senders: [GBSenderBody]
}
