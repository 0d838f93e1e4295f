import RelayCore
import RelayGB28181

/// The RTP sender routes (WebApi.cpp `start_send_rtp`, `stopSendRtp`, `listRtpSender`) on the
/// GB28181 cascade senders: PS over RTP of a live stream to an upper platform.
extension ZLMFacade {
    static let sendRoutes: [(String, Route)] = [
        ("startSendRtp", { try await $0.startSendRtp($1, passive: false) }),
        ("startSendRtpPassive", { try await $0.startSendRtp($1, passive: true) }),
        ("stopSendRtp", { try await $0.stopSendRtp($1) }),
        ("listRtpSender", { try await $0.listRtpSender($1) }),
    ]

    /// The live stream named by `app`/`stream`, or the dialect's -500.
    func liveStream(_ p: ZLMParams, missing: String = "can not find the source stream") async throws -> String {
        let id = try streamID(app: p.required("app"), stream: p.required("stream"))
        guard let source = context.registry.source(id), await source.isReady, !(await source.isClosed) else {
            throw ZLMFailure(.notFound, "\(missing) \(id)")
        }
        return id
    }

    /// startSendRtp(vhost, app, stream, ssrc, dst_url, dst_port, is_udp, src_port, pt, use_ps,
    /// only_audio) → `{local_port}`: is_udp 1 sends UDP datagrams, 0 connects over TCP, from
    /// `src_port` when given. startSendRtpPassive (no dst): listens on `src_port` (0: a port of
    /// the range) and waits `close_delay_ms` (default 10 s) for the platform to connect.
    /// Only PS payload exists here: `use_ps`/`type` other than 1 is -300. A sender of the same
    /// stream and SSRC is replaced, as the dialect keys senders by SSRC.
    /// `udp_rtcp_timeout`, `enable_origin_recv_limit`, `recv_stream_id` are accepted and not used.
    func startSendRtp(_ p: ZLMParams, passive: Bool) async throws -> ZLMResult {
        if passive {
            try p.require("vhost", "app", "stream", "ssrc")
        } else {
            try p.require("vhost", "app", "stream", "ssrc", "dst_url", "dst_port", "is_udp")
        }
        let ssrcText = try p.required("ssrc")
        guard let ssrc = try p.ssrc() else { throw ZLMFailure(.invalidArgs, "'ssrc' must not be 0") }
        var type = try p.int("type", in: 0...2, default: 1)
        if p["use_ps"] != nil { type = try p.int("use_ps", in: 0...2, default: 1) }
        guard type == 1 else {
            throw ZLMFailure(.invalidArgs, "only PS over RTP is supported (use_ps=1 / type=1), got \(type)")
        }
        let pt = try p.int("pt", in: 0...127, default: 96)
        let srcPort = try p.port("src_port")
        let audioOnly = try p.bool("only_audio")
        let udp = try p.bool("is_udp")
        _ = try p.bool("udp_rtcp_timeout")
        var mode: GBMode
        var dest: String?
        var connectTimeoutMs = GBSenderRequest.defaultConnectTimeoutMs
        if passive {
            guard !udp else { throw ZLMFailure(.invalidArgs, "UDP passive sending is not supported (is_udp=1 with startSendRtpPassive)") }
            mode = .tcpPassive
            connectTimeoutMs = try p.int("close_delay_ms", in: 100...120_000, default: connectTimeoutMs)
        } else {
            mode = udp ? .udp : .tcpActive
            let host = try p.required("dst_url")
            let port = try p.int("dst_port", in: 1...65535, default: 0)
            guard host.utf8.count <= 253, !host.contains("/"), !host.contains(" ") else {
                throw ZLMFailure(.invalidArgs, "'dst_url' must be the platform's IP address or host name, got '\(printableStreamID(host))'")
            }
            dest = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
        let id = try await liveStream(p)
        _ = await gb28181.stopSenders(stream: id, ssrc: ssrc, dest: nil)
        let request = GBSenderRequest(stream: id, ssrc: ssrc, dest: dest, mode: mode, payloadType: UInt8(truncatingIfNeeded: pt),
                                      connectTimeoutMs: connectTimeoutMs, localPort: srcPort == 0 ? nil : srcPort, audioOnly: audioOnly)
        do {
            let info = try await gb28181.startSender(request)
            logger.info("zlm startSendRtp\(passive ? "Passive" : ""): \(id) SSRC \(ssrcText) \(mode) \(dest ?? "")")
            return .json(["local_port": .whole(info.localPort ?? srcPort)])
        } catch let error as GBSenderError {
            throw Self.failure(for: error, localPort: srcPort)
        }
    }

    static func failure(for error: GBSenderError, localPort: Int) -> ZLMFailure {
        let fields: [String: JSONValue] = ["local_port": .whole(0)]
        switch error {
        case .invalid: return ZLMFailure(.invalidArgs, error.description, fields: fields)
        case .notLive: return ZLMFailure(.notFound, error.description, fields: fields)
        case .disabled, .conflict: return ZLMFailure(.otherFailed, error.description, fields: fields)
        }
    }

    /// stopSendRtp(vhost, app, stream, ssrc?) stops the stream's senders (those of `ssrc` when
    /// given): -500 when the stream is not live, -1 "stopSendRtp failed" when none stopped
    /// (WebApi.cpp; `MultiMediaSourceMuxer::stopSendRtp`).
    func stopSendRtp(_ p: ZLMParams) async throws -> ZLMResult {
        try p.require("vhost", "app", "stream")
        let ssrc = try p.ssrc()
        let id = try await liveStream(p, missing: "can not find the stream")
        let stopped = await gb28181.stopSenders(stream: id, ssrc: ssrc, dest: nil)
        guard stopped > 0 else { throw ZLMFailure(.otherFailed, "stopSendRtp failed") }
        logger.info("zlm stopSendRtp: \(stopped) sender(s) of \(id)")
        return .json([:])
    }

    /// listRtpSender(vhost, app, stream) → `data: [ssrc]`, the stream's running senders.
    func listRtpSender(_ p: ZLMParams) async throws -> ZLMResult {
        try p.require("vhost", "app", "stream")
        let id = try await liveStream(p)
        let list = gb28181.senders(stream: id).filter { $0.state != .stopped }
        return .json(["data": .array(list.map { .string($0.ssrcString) })])
    }
}
