import RelayCore

/// `PUT /api/v1/gb28181/receivers/{stream}`: what a platform changes on an open receiver — the
/// SSRC the device answered with, the tcp-active device to dial, the no-media checks paused for
/// a paused playback. Each maps onto the service call the facade uses too.
extension GB28181Service {
    /// The body, checked field by field (400 naming the field).
    struct UpdateRequest: Equatable, Sendable {
        var ssrc: UInt32?
        var device: String?
        var checkPaused: Bool?

        static let keys: Set<String> = ["ssrc", "device", "check_paused"]

        init(_ body: [String: JSONValue]) throws {
            try GBAdminField.rejectUnknown(body, allowed: Self.keys, expected: "ssrc, device, check_paused")
            guard !body.isEmpty else {
                throw AdminFailure.badRequest("give any of 'ssrc', 'device' (tcp-active) and 'check_paused'")
            }
            ssrc = try GBAdminField.ssrc(body)
            switch body["device"] {
            case nil:
                device = nil
            case .string(let text)? where OpenRequest.isHostPort(text):
                device = text
            case .string(let text)?:
                throw AdminFailure.badRequest("'device' must be \"host:port\" (port 1...65535), got '\(printable(text))'")
            case let other?:
                throw AdminFailure.badRequest("'device' must be the device's \"host:port\", got \(other.kindDescription)")
            }
            switch body["check_paused"] {
            case nil: checkPaused = nil
            case .bool(let b)?: checkPaused = b
            case let other?: throw AdminFailure.badRequest("'check_paused' must be true or false, got \(other.kindDescription)")
            }
        }
    }

    func updateReceiver(_ request: AdminRequest) async throws -> AdminReply {
        try enabledForAdmin()
        let id = try request.stream()
        guard let body = try await request.body() else {
            throw AdminFailure.badRequest("a JSON body is required: any of {\"ssrc\", \"device\", \"check_paused\"}")
        }
        let update = try UpdateRequest(body)
        guard let receiver = receiver(named: id) else { throw AdminFailure.notFound("no GB28181 receiver for \(id)") }
        do {
            // Nothing changes when the device cannot apply.
            if update.device != nil && receiver.mode != .tcpActive { throw GBError.notTCPActive(id) }
            if let ssrc = update.ssrc { try updateSSRC(streamID: receiver.streamID, ssrc: ssrc) }
            if let device = update.device { try await connect(streamID: receiver.streamID, device: device) }
            if let paused = update.checkPaused { try setCheckPaused(streamID: receiver.streamID, paused) }
        } catch let error as GBError {
            throw AdminFailure(Self.status(error), error.description)
        }
        request.logger.info("admin API updated GB28181 receiver \(receiver.streamID)")
        return AdminReply(receiverBody(receiver.info, ip: announcedIP()))
    }
}
