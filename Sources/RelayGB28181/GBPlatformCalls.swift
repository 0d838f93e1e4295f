import NIOCore
import RelayCore

/// What a GB28181 platform does to receivers after opening them (a ZLMediaKit-style facade and
/// the native admin API both call these): find one by either name, change its SSRC, name the
/// tcp-active device, pause its no-media checks, move the port range; and the receiver timeout.
extension GB28181Service {
    /// By open-time stream id, else by the name its stream was published under (on_publish
    /// `stream_replace`).
    public func receiver(named name: String) -> GBReceiver? {
        state.withLockedValue { s in
            s.receivers[name] ?? s.receivers.values.first { $0.publishedAs == name }
        }
    }

    /// The receiver named `name` (id or published name), or `GBError.noReceiver`.
    func existing(_ name: String) throws(GBError) -> GBReceiver {
        guard let r = receiver(named: name) else { throw .noReceiver(name) }
        return r
    }

    /// Sessions that start from now on expect `ssrc` (the device answered the INVITE with
    /// another); a live session goes on. Refuses an SSRC another receiver expects.
    public func updateSSRC(streamID: String, ssrc: UInt32) throws {
        try state.withLockedValue { s in
            guard let r = s.receivers[streamID] ?? s.receivers.values.first(where: { $0.publishedAs == streamID }) else {
                throw GBError.noReceiver(streamID)
            }
            if s.receivers.values.contains(where: { $0 !== r && $0.ssrc == ssrc }) { throw GBError.duplicateSSRC(GBSSRC.format(ssrc)) }
            r.setSSRC(ssrc)
        }
        logger.info("gb28181 receiver \(streamID) expects SSRC \(GBSSRC.format(ssrc)) now")
    }

    /// tcp-active: dials `device` ("host:port"), retrying until media flows; a new address
    /// replaces the one being dialed. Refused for other modes and while receiving from another device.
    public func connect(streamID: String, device: String) async throws {
        let r = try existing(streamID)
        guard r.mode == .tcpActive else { throw GBError.notTCPActive(streamID) }
        guard let address = parseHostPort(device) else { throw GBError.invalidDeviceAddress(device) }
        guard let (generation, stale) = try r.redirect(to: address) else { return }
        for ch in stale { try? await ch.close() }
        logger.info("gb28181 receiver \(r.streamID): dialing device \(device)")
        dial(r, generation: generation)
    }

    /// Pauses (or resumes) the receiver's no-media checks: its receiver timeout and its live
    /// stream's receive timeout. A session that starts while paused starts paused.
    public func setCheckPaused(streamID: String, _ paused: Bool) throws {
        try existing(streamID).setCheckPaused(paused)
        logger.info("gb28181 receiver \(streamID): no-media checks \(paused ? "paused" : "resumed")")
    }

    /// Where receivers opened with `.fromRange` (and tcp-passive senders) take their port.
    public var portRange: ClosedRange<Int> { state.withLockedValue { $0.portRange } }

    /// `setPortRange(min...max)` for numbers from a request: refuses min > max instead of trapping.
    public func setPortRange(min: Int, max: Int) throws {
        guard min <= max else { throw GBError.invalidPortRange("\(min) is above \(max)") }
        try setPortRange(min...max)
    }

    /// Changes `portRange` for receivers and senders opened from now on.
    public func setPortRange(_ range: ClosedRange<Int>) throws {
        guard range.lowerBound >= 1, range.upperBound <= 65535 else {
            throw GBError.invalidPortRange("\(range.lowerBound)...\(range.upperBound) is not within 1...65535")
        }
        state.withLockedValue { s in
            s.portRange = range
            if !range.contains(s.nextPort) { s.nextPort = range.lowerBound }
        }
        logger.info("gb28181 port range is \(range.lowerBound)...\(range.upperBound) now")
    }

    /// `gb28181.receiver_timeout_ms` for the receivers the API opens; nil when off.
    var receiverTimeout: GBReceiverTimeout? {
        guard config.receiverTimeoutMs > 0 else { return nil }
        return GBReceiverTimeout(ms: config.receiverTimeoutMs, loop: group.next()) { [weak self] receiver in
            guard let self, receiver.markClosed() else { return }
            Task { await self.timedOut(receiver) }
        }
    }

    /// A receiver had no session for `receiver_timeout_ms`: it closes (port and SSRC freed) and
    /// `on_receiver_timeout` tells the platform.
    private func timedOut(_ receiver: GBReceiver) async {
        let info = receiver.info
        let ms = config.receiverTimeoutMs
        guard await close(receiver, reason: "no media within \(ms) ms (gb28181.receiver_timeout_ms)") else { return }
        var extra: [String: JSONValue] = ["mode": .string(info.mode.rawValue), "timeout_ms": .number(Double(ms))]
        if let port = info.localPort { extra["local_port"] = .number(Double(port)) }
        if let ssrc = info.ssrcString { extra["ssrc"] = .string(ssrc) }
        context.notify(.receiverTimeout, stream: receiver.streamID, session: nil, extra: extra)
    }
}
