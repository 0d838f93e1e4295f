import RelayCore
import RelayGB28181

/// The RTP receiver routes (WebApi.cpp, `ENABLE_RTPPROXY`) on the GB28181 receivers. A
/// receiver's stream is `<app>/<stream_id>` (app `zlm.rtp_app`, "rtp", unless the call names
/// one); later calls may name it by that id or by the name on_publish gave its stream
/// (`stream_replace`).
extension ZLMFacade {
    static let rtpRoutes: [(String, Route)] = [
        ("openRtpServer", { try await $0.openRtpServer($1) }),
        ("closeRtpServer", { try await $0.closeRtpServer($1) }),
        ("listRtpServer", { f, _ in f.listRtpServer() }),
        ("connectRtpServer", { try await $0.connectRtpServer($1) }),
        ("getRtpInfo", { try $0.getRtpInfo($1) }),
        ("pauseRtpCheck", { try $0.setRtpCheck($1, paused: true) }),
        ("resumeRtpCheck", { try $0.setRtpCheck($1, paused: false) }),
        ("updateRtpServerSSRC", { try $0.updateRtpServerSSRC($1) }),
    ]

    /// `tcp_mode` 0 UDP, 1 TCP passive, 2 TCP active (`RtpServer::TcpMode`).
    static func mode(tcpMode: Int) -> GBMode {
        switch tcpMode {
        case 1: return .tcpPassive
        case 2: return .tcpActive
        default: return .udp
        }
    }

    static func tcpMode(_ mode: GBMode) -> Int {
        switch mode {
        case .udp: return 0
        case .tcpPassive: return 1
        case .tcpActive: return 2
        }
    }

    /// openRtpServer(port, stream_id, tcp_mode, ssrc, re_use_port, only_track, only_audio) →
    /// `{port}`. `port` 0 takes a free port of the range (`rtp_proxy.port_range`), as the dialect
    /// does; `enable_tcp=1` is the old spelling of `tcp_mode=1`. `re_use_port`, `only_track`,
    /// `only_audio` and `local_ip` are accepted and not used (tracks come from the stream's PS
    /// map; ports are bound with SO_REUSEADDR anyway).
    func openRtpServer(_ p: ZLMParams) async throws -> ZLMResult {
        try p.require("port", "stream_id")
        let id = try rtpStreamID(p)
        let port = try p.port("port")
        var tcpMode = try p.int("tcp_mode", in: 0...2, default: 0)
        if tcpMode == 0, try p.bool("enable_tcp") { tcpMode = 1 }
        _ = try p.bool("re_use_port")
        _ = try p.int("only_track", in: 0...2, default: 0)
        _ = try p.bool("only_audio")
        let ssrc = try p.ssrc()
        let mode = Self.mode(tcpMode: tcpMode)
        // tcp-active dials the device named later by connectRtpServer.
        let receiver = try await gb28181.open(streamID: id, ssrc: ssrc, mode: mode, port: port == 0 ? .fromRange : .fixed(port))
        logger.info("zlm openRtpServer: \(id) \(mode), SSRC \(ssrc.map(GBSSRC.format) ?? "any")")
        return .json(["port": .whole(localPort(receiver.info))])
    }

    /// The port a receiver answers for: its own or shared port; a tcp-active one the port it
    /// dials from (reserved from the range when opened with port 0, as the dialect binds one),
    /// else the shared TCP port: platforms read `port` 0 as a failure.
    func localPort(_ info: GBReceiverInfo) -> Int {
        if info.mode != .tcpActive, let port = info.port { return port }
        if info.mode == .tcpActive, let port = info.localPort { return port }
        return gb28181.sharedTCPPort ?? gb28181.portRange.lowerBound
    }

    /// closeRtpServer(stream_id) → `{hit: 0|1}`; the stream of the receiver ends with it.
    func closeRtpServer(_ p: ZLMParams) async throws -> ZLMResult {
        let id = try rtpStreamID(p)
        let hit = await gb28181.close(streamID: id)
        if hit { logger.info("zlm closeRtpServer: \(id)") }
        return .json(["hit": .whole(hit ? 1 : 0)])
    }

    /// listRtpServer → `data: [{vhost, app, stream_id, port, ssrc, tcp_mode, only_track}]`, by
    /// open-time id (WebApi.cpp `listRtpServer`).
    func listRtpServer() -> ZLMResult {
        let data = gb28181.list().map { info -> JSONValue in
            let (app, stream) = ZLMName.split(info.streamID)
            return .object([
                "vhost": .string(ZLMName.vhost), "app": .string(app), "stream_id": .string(stream),
                "port": .whole(localPort(info)), "ssrc": .whole(UInt64(info.ssrc ?? 0)),
                "tcp_mode": .whole(Self.tcpMode(info.mode)), "only_track": .whole(0),
            ])
        }
        return .json(["data": .array(data)])
    }

    /// connectRtpServer(stream_id, dst_url, dst_port): a tcp-active receiver dials the device.
    /// A missing receiver is -1 "can not find the stream" as in the dialect.
    func connectRtpServer(_ p: ZLMParams) async throws -> ZLMResult {
        try p.require("stream_id", "dst_url", "dst_port")
        let id = try rtpStreamID(p)
        let host = try p.required("dst_url")
        let port = try p.int("dst_port", in: 1...65535, default: 0)
        guard host.utf8.count <= 253, !host.contains("/"), !host.contains(" ") else {
            throw ZLMFailure(.invalidArgs, "'dst_url' must be the device's IP address or host name, got '\(printableStreamID(host))'")
        }
        guard gb28181.receiver(named: id) != nil else { throw ZLMFailure(.otherFailed, "can not find the stream \(id)") }
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        try await gb28181.connect(streamID: id, device: address)
        return .json([:])
    }

    /// getRtpInfo(stream_id) → `{exist: false}`, or while media flows `{exist: true, peer_ip,
    /// peer_port, local_ip, local_port}` (WebApi.cpp: the stream's RtpProcess, which exists once
    /// media arrived).
    func getRtpInfo(_ p: ZLMParams) throws -> ZLMResult {
        let id = try rtpStreamID(p)
        guard let info = gb28181.receiver(named: id)?.info, info.state == .receiving else {
            return .json(["exist": .bool(false)])
        }
        let peer = info.remoteAddress.flatMap(ZLMName.hostPort)
        return .json([
            "exist": .bool(true), "peer_ip": .string(peer?.host ?? ""), "peer_port": .whole(peer?.port ?? 0),
            "local_ip": .string(gb28181.announcedIP()), "local_port": .whole(localPort(info)),
        ])
    }

    /// pauseRtpCheck / resumeRtpCheck(stream_id): the receiver's no-media checks (a paused
    /// playback sends nothing). `pause_seconds` is not used: the pause lasts until resumed.
    func setRtpCheck(_ p: ZLMParams, paused: Bool) throws -> ZLMResult {
        let id = try rtpStreamID(p)
        do {
            try gb28181.setCheckPaused(streamID: id, paused)
        } catch GBError.noReceiver {
            return .json(["code": .whole(ZLMCode.notFound.rawValue), "msg": .string("can not find the stream \(id)")])
        }
        return .json([:])
    }

    /// updateRtpServerSSRC(stream_id, ssrc): sessions from now on expect that SSRC.
    func updateRtpServerSSRC(_ p: ZLMParams) throws -> ZLMResult {
        try p.require("stream_id", "ssrc")
        let id = try rtpStreamID(p)
        guard let ssrc = try p.ssrc() else { throw ZLMFailure(.invalidArgs, "'ssrc' must not be 0") }
        do {
            try gb28181.updateSSRC(streamID: id, ssrc: ssrc)
        } catch GBError.noReceiver {
            throw ZLMFailure(.notFound, "RtpServer not found by stream_id")
        }
        return .json([:])
    }
}
