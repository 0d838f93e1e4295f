import Foundation
import NIOCore
import NIOPosix
import RelayCore

/// GB28181 as a protocol module: its shared receive ports, its summary and metrics, and the
/// receiver endpoints of the admin API (`/api/v1/gb28181/receivers`: open, list, get, update,
/// close). `{stream}` is the receiver's id or the name its stream was published under.
extension GB28181Service: ProtocolModule {
    public var name: String { "gb28181" }

    public var receivePorts: [BoundListener] {
        var out: [BoundListener] = []
        if let p = sharedUDPPort { out.append(BoundListener(name: "gb28181_udp", transport: "udp", host: config.host, port: p)) }
        if let p = sharedTCPPort { out.append(BoundListener(name: "gb28181_tcp", transport: "tcp", host: config.host, port: p)) }
        return out
    }

    public var serverConfig: [String: JSONValue] { ["gb28181": .bool(config.enabled)] }

    public var stats: [String: JSONValue] { ["gb28181_receivers": .number(Double(list().count))] }

    public var gauges: [ModuleGauge] {
        let receivers = list()
        var byState: [String: Int] = [:]
        for r in receivers { byState[r.state.rawValue, default: 0] += 1 }
        var out = GBReceiverState.allCases.map { state in
            ModuleGauge(name: "relay_gb28181_receivers", help: "GB28181 receivers by state", labels: [("state", state.rawValue)],
                        value: Double(byState[state.rawValue] ?? 0))
        }
        for r in receivers { out += Self.counterGauges(r) }
        return out + senderGauges
    }

    /// Per receiver: RTP packets and video frames by fate (totals since it opened).
    static func counterGauges(_ r: GBReceiverInfo) -> [ModuleGauge] {
        let c = r.counters
        let packets: [(String, UInt64)] = [("received", c.packets), ("lost", c.lost), ("late", c.late),
                                           ("duplicate", c.duplicates), ("reordered", c.reordered),
                                           ("malformed", r.malformedPackets), ("foreign", r.foreignPackets)]
        let frames: [(String, UInt64)] = [("video", c.videoFrames), ("audio", c.audioFrames), ("dropped", c.framesDropped)]
        return packets.map {
            ModuleGauge(name: "relay_gb28181_receiver_packets", help: "RTP packets of a GB28181 receiver by fate",
                        labels: [("stream", r.streamID), ("fate", $0.0)], value: Double($0.1))
        } + frames.map {
            ModuleGauge(name: "relay_gb28181_receiver_frames", help: "Frames of a GB28181 receiver: delivered video/audio, dropped video",
                        labels: [("stream", r.streamID), ("kind", $0.0)], value: Double($0.1))
        }
    }

    public var adminEndpoints: [AdminEndpoint] {
        [
            AdminEndpoint(.get, "/api/v1/gb28181/receivers") { _ in try self.listReceivers() },
            AdminEndpoint(.post, "/api/v1/gb28181/receivers") { try await self.openReceiver($0) },
            AdminEndpoint(.get, "/api/v1/gb28181/receivers/{stream}") { try self.getReceiver($0) },
            AdminEndpoint(.put, "/api/v1/gb28181/receivers/{stream}") { try await self.updateReceiver($0) },
            AdminEndpoint(.delete, "/api/v1/gb28181/receivers/{stream}") { try await self.closeReceiver($0) },
        ] + senderEndpoints
    }

    // MARK: handlers

    func enabledForAdmin() throws {
        guard config.enabled else { throw AdminFailure.conflict("GB28181 ingest is disabled (gb28181.enabled)") }
    }

    /// The address devices send to: `gb28181.host` unless it is a wildcard, else this machine's
    /// first non-loopback IPv4 address (127.0.0.1 when it has none).
    public func announcedIP() -> String {
        let host = config.host
        if host != "0.0.0.0" && host != "::" && !host.isEmpty { return host }
        let devices = (try? System.enumerateDevices()) ?? []
        for d in devices {
            if d.address?.protocol == .inet, let ip = d.address?.ipAddress, !ip.hasPrefix("127.") { return ip }
        }
        return "127.0.0.1"
    }

    /// `ip`/`port`: where media goes — this server's announced address and the receive port, or
    /// for tcp-active the device's address that the server dials (never a guess from a peer).
    func receiverBody(_ r: GBReceiverInfo, ip: String) -> GBReceiverBody {
        let c = r.counters
        return GBReceiverBody(stream: r.streamID, ssrc: r.ssrcString, mode: r.mode.rawValue,
                              ip: r.deviceHost ?? ip, port: r.port, sharedPort: r.sharedPort, state: r.state.rawValue,
                              since: iso8601(r.since), configured: r.isStatic, remoteAddress: r.remoteAddress,
                              localPort: r.localPort, publishedAs: r.publishedAs, checkPaused: r.checkPaused,
                              packets: c.packets, bytes: c.bytes, lost: c.lost, late: c.late, duplicates: c.duplicates,
                              reordered: c.reordered, resyncs: c.resyncs, videoFrames: c.videoFrames,
                              audioFrames: c.audioFrames, framesDropped: c.framesDropped, sessions: r.sessions,
                              foreignPackets: r.foreignPackets, malformedPackets: r.malformedPackets, repins: r.repins)
    }


    func listReceivers() throws -> AdminReply {
        try enabledForAdmin()
        let ip = announcedIP()
        let receivers = list().map { receiverBody($0, ip: ip) }
        return AdminReply(GBReceiverList(count: receivers.count, receivers: receivers))
    }

    func getReceiver(_ request: AdminRequest) throws -> AdminReply {
        try enabledForAdmin()
        let id = try request.stream()
        guard let r = receiver(named: id) else { throw AdminFailure.notFound("no GB28181 receiver for \(id)") }
        return AdminReply(receiverBody(r.info, ip: announcedIP()))
    }

    func closeReceiver(_ request: AdminRequest) async throws -> AdminReply {
        try enabledForAdmin()
        let id = try request.stream()
        guard await close(streamID: id) else { throw AdminFailure.notFound("no GB28181 receiver for \(id)") }
        return AdminReply(GBReceiverClosed(stream: id, closed: true))
    }

    func openReceiver(_ request: AdminRequest) async throws -> AdminReply {
        guard let body = try await request.body() else {
            throw AdminFailure.badRequest("a JSON body is required: {\"stream\", \"ssrc\", \"mode\", \"port\", \"device\"}")
        }
        let open = try OpenRequest(body)
        try enabledForAdmin()
        let receiver: GBReceiver
        do {
            receiver = try await self.open(streamID: open.stream, ssrc: open.ssrc, mode: open.mode, port: open.port,
                                           deviceAddress: open.device)
        } catch let error as GBError {
            throw AdminFailure(Self.status(error), error.description)
        }
        request.logger.info("admin API opened GB28181 receiver \(open.stream)")
        return AdminReply(status: 201, receiverBody(receiver.info, ip: announcedIP()))
    }

    static func status(_ error: GBError) -> Int {
        switch error {
        case .invalidStreamID, .ssrcRequired, .deviceAddressRequired, .invalidDeviceAddress, .invalidSSRC, .notForActive,
             .invalidPortRange:
            return 400
        case .notTCPActive:
            return 409  // a well-formed request the receiver's mode does not allow
        case .noReceiver:
            return 404
        case .disabled, .notStarted, .duplicateStream, .streamPublished, .duplicateSSRC, .noSharedPort, .noFreePort, .bindFailed,
             .receiving:
            return 409
        }
    }

    /// The body of `POST /api/v1/gb28181/receivers`, checked field by field.
    struct OpenRequest: Equatable, Sendable {
        var stream: String
        var ssrc: UInt32?
        var mode: GBMode
        var port: GBPort
        var device: String?

        static let keys: Set<String> = ["stream", "ssrc", "mode", "port", "device"]

        init(_ body: [String: JSONValue]) throws {
            try GBAdminField.rejectUnknown(body, allowed: Self.keys, expected: "stream, ssrc, mode, port, device")
            stream = try GBAdminField.stream(body, what: "the stream id (e.g. \"gb/34020000001320000001\")")
            ssrc = try GBAdminField.ssrc(body)
            mode = try GBAdminField.mode(body)
            switch body["device"] {
            case nil:
                device = nil
            case .string(let text)?:
                device = text
            case let other?:
                throw AdminFailure.badRequest("'device' must be the device's \"host:port\", got \(other.kindDescription)")
            }
            switch body["port"] {
            case nil:
                port = ssrc == nil ? .fromRange : .shared
            case .string("shared")?:
                port = .shared
            case .string("auto")?:
                port = .fromRange
            case .number(let n)?:
                guard let p = Int(exactly: n), (1...65535).contains(p) else {
                    throw AdminFailure.badRequest("'port' must be 1...65535, \"shared\" or \"auto\", got \(n)")
                }
                port = .fixed(p)
            case let other?:
                throw AdminFailure.badRequest("'port' must be 1...65535, \"shared\" or \"auto\", got \(other.kindDescription)")
            }
            if mode == .tcpActive {
                // Without a device the receiver waits for PUT {"device"} (the device's INVITE answer).
                if let device, !Self.isHostPort(device) {
                    throw AdminFailure.badRequest("'device' must be \"host:port\" (port 1...65535), got '\(printable(device))'")
                }
                // `port` here is the local port to dial from (a platform announces it in its SDP).
                switch body["port"] {
                case nil: port = .shared
                case .string("shared")?:
                    throw AdminFailure.badRequest("'port' of tcp-active is the local port to dial from: a number or \"auto\"")
                default: break
                }
            } else if device != nil {
                throw AdminFailure.badRequest("'device' is only for tcp-active (the server dials the device)")
            }
            if port == .shared && ssrc == nil && mode != .tcpActive {
                throw AdminFailure.badRequest("a receiver on the shared port needs an 'ssrc' (or use \"port\": \"auto\")")
            }
        }

        /// "host:port" (host: letters, digits, `.` and `-`) or "[v6]:port"; port 1...65535 without
        /// leading zeros (openapi.yaml ReceiverOpen.device says the same).
        static func isHostPort(_ text: String) -> Bool {
            guard let colon = text.lastIndex(of: ":") else { return false }
            let host = text[..<colon]
            let portText = text[text.index(after: colon)...]
            guard (1...5).contains(portText.count), portText.first != "0", portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let port = Int(portText), (1...65535).contains(port) else {
                return false
            }
            if host.hasPrefix("[") {
                let inner = host.dropFirst().dropLast()
                return host.hasSuffix("]") && (2...45).contains(inner.count)
                    && inner.allSatisfy { $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == ".") }
            }
            return (1...253).contains(host.count) && host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }
        }
    }
}

