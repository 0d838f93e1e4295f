import RelayCore

/// The body of `POST /api/v1/gb28181/senders`, checked field by field (400 with the reason).
struct GBSenderRequest: Equatable, Sendable {
    var stream: String
    var ssrc: UInt32
    /// "host:port": where udp and tcp-active send; for tcp-passive (optional) the platform's
    /// address, whose host alone may connect.
    var dest: String?
    var mode: GBMode
    var payloadType: UInt8
    /// tcp-active: connecting; tcp-passive: waiting for the platform to connect.
    var connectTimeoutMs: Int

    static let keys: Set<String> = ["stream", "ssrc", "dest", "mode", "payload_type", "connect_timeout_ms"]
    static let defaultPayloadType: UInt8 = 96
    static let defaultConnectTimeoutMs = 10_000

    init(stream: String, ssrc: UInt32, dest: String?, mode: GBMode, payloadType: UInt8 = GBSenderRequest.defaultPayloadType,
         connectTimeoutMs: Int = GBSenderRequest.defaultConnectTimeoutMs) {
        self.stream = stream
        self.ssrc = ssrc
        self.dest = dest
        self.mode = mode
        self.payloadType = payloadType
        self.connectTimeoutMs = connectTimeoutMs
    }

    init(_ body: [String: JSONValue]) throws {
        try GBAdminField.rejectUnknown(body, allowed: Self.keys, expected: "stream, ssrc, dest, mode, payload_type, connect_timeout_ms")
        stream = try GBAdminField.stream(body, what: "the id of the live stream to forward (e.g. \"live/cam1\")")
        guard let ssrc = try GBAdminField.ssrc(body) else {
            throw AdminFailure.badRequest("'ssrc' is required: the SSRC the upper platform expects, ten digits (\"0100000001\")")
        }
        self.ssrc = ssrc
        mode = try GBAdminField.mode(body)
        switch body["dest"] {
        case nil:
            guard mode == .tcpPassive else {
                throw AdminFailure.badRequest("'dest' is required for \(mode): the upper platform's \"host:port\"")
            }
            dest = nil
        case .string(let text)?:
            guard GB28181Service.OpenRequest.isHostPort(text) else {
                throw AdminFailure.badRequest("'dest' must be \"host:port\" (port 1...65535), got '\(printable(text))'")
            }
            dest = text
        case let other?:
            throw AdminFailure.badRequest("'dest' must be the upper platform's \"host:port\", got \(other.kindDescription)")
        }
        payloadType = UInt8(truncatingIfNeeded: try Self.integer(body["payload_type"], "payload_type", in: 0...127,
                                                                 default: Int(Self.defaultPayloadType)))
        connectTimeoutMs = try Self.integer(body["connect_timeout_ms"], "connect_timeout_ms", in: 100...120_000,
                                            default: Self.defaultConnectTimeoutMs)
        if mode == .udp && body["connect_timeout_ms"] != nil {
            throw AdminFailure.badRequest("'connect_timeout_ms' is for tcp-active and tcp-passive (udp does not connect)")
        }
    }

    private static func integer(_ value: JSONValue?, _ key: String, in range: ClosedRange<Int>, default: Int) throws -> Int {
        switch value {
        case nil:
            return `default`
        case .number(let n)?:
            guard let i = Int(exactly: n), range.contains(i) else {
                throw AdminFailure.badRequest("'\(key)' must be an integer \(range.lowerBound)...\(range.upperBound), got \(n)")
            }
            return i
        case let other?:
            throw AdminFailure.badRequest("'\(key)' must be an integer \(range.lowerBound)...\(range.upperBound), got \(other.kindDescription)")
        }
    }

    /// What makes two senders the same: one stream, one SSRC, one destination.
    var key: String { "\(stream) \(ssrc) \(dest ?? "")" }
}
