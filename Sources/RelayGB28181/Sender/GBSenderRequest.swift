import RelayCore

/// What a cascade sender sends, where and how: the body of `POST /api/v1/gb28181/senders`
/// (checked field by field, 400 with the reason) or a facade's call of `startSender(_:)`.
public struct GBSenderRequest: Equatable, Sendable {
    public var stream: String
    public var ssrc: UInt32
    /// "host:port": where udp and tcp-active send; for tcp-passive (optional) the platform's
    /// address, whose host alone may connect.
    public var dest: String?
    public var mode: GBMode
    public var payloadType: UInt8
    /// tcp-active: connecting; tcp-passive: waiting for the platform to connect.
    public var connectTimeoutMs: Int
    /// The local port the platform expects (it put it in its SDP): udp sends from it, tcp-active
    /// connects from it, tcp-passive listens on it. nil: any (tcp-passive: one of the port range).
    public var localPort: Int?
    /// Only the audio track goes into the program stream (a voice broadcast).
    public var audioOnly: Bool

    static let keys: Set<String> = ["stream", "ssrc", "dest", "mode", "payload_type", "connect_timeout_ms", "local_port", "audio_only"]
    public static let defaultPayloadType: UInt8 = 96
    public static let defaultConnectTimeoutMs = 10_000
    static let connectTimeoutRange = 100...120_000

    public init(stream: String, ssrc: UInt32, dest: String?, mode: GBMode, payloadType: UInt8 = GBSenderRequest.defaultPayloadType,
                connectTimeoutMs: Int = GBSenderRequest.defaultConnectTimeoutMs, localPort: Int? = nil, audioOnly: Bool = false) {
        self.stream = stream
        self.ssrc = ssrc
        self.dest = dest
        self.mode = mode
        self.payloadType = payloadType
        self.connectTimeoutMs = connectTimeoutMs
        self.localPort = localPort == 0 ? nil : localPort
        self.audioOnly = audioOnly
    }

    init(_ body: [String: JSONValue]) throws {
        try GBAdminField.rejectUnknown(body, allowed: Self.keys,
                                       expected: "stream, ssrc, dest, mode, payload_type, connect_timeout_ms, local_port, audio_only")
        stream = try GBAdminField.stream(body, what: "the id of the live stream to forward (e.g. \"live/cam1\")")
        guard let ssrc = try GBAdminField.ssrc(body) else {
            throw AdminFailure.badRequest("'ssrc' is required: the SSRC the upper platform expects, ten digits (\"0100000001\")")
        }
        self.ssrc = ssrc
        mode = try GBAdminField.mode(body)
        switch body["dest"] {
        case nil:
            dest = nil
        case .string(let text)?:
            dest = text
        case let other?:
            throw AdminFailure.badRequest("'dest' must be the upper platform's \"host:port\", got \(other.kindDescription)")
        }
        payloadType = UInt8(truncatingIfNeeded: try Self.integer(body["payload_type"], "payload_type", in: 0...127,
                                                                 default: Int(Self.defaultPayloadType)))
        connectTimeoutMs = try Self.integer(body["connect_timeout_ms"], "connect_timeout_ms", in: Self.connectTimeoutRange,
                                            default: Self.defaultConnectTimeoutMs)
        if mode == .udp && body["connect_timeout_ms"] != nil {
            throw AdminFailure.badRequest("'connect_timeout_ms' is for tcp-active and tcp-passive (udp does not connect)")
        }
        let port = try Self.integer(body["local_port"], "local_port", in: 0...65535, default: 0)
        localPort = port == 0 ? nil : port
        switch body["audio_only"] {
        case nil: audioOnly = false
        case .bool(let b)?: audioOnly = b
        case let other?: throw AdminFailure.badRequest("'audio_only' must be true or false, got \(other.kindDescription)")
        }
        if let problem = problem { throw problem.adminFailure }
    }

    /// The checks every request passes, from JSON or from Swift.
    func validate() throws {
        if let problem { throw problem }
    }

    /// What `validate` refuses; nil when the request is good.
    private var problem: GBSenderError? {
        guard isValidStreamID(stream) else {
            return .invalid("'\(printable(stream))' is not a valid stream id (app/stream: letters, digits, -_.~)")
        }
        switch dest {
        case nil:
            guard mode == .tcpPassive else { return .invalid("'dest' is required for \(mode): the upper platform's \"host:port\"") }
        case let text?:
            guard GB28181Service.OpenRequest.isHostPort(text) else {
                return .invalid("'dest' must be \"host:port\" (port 1...65535), got '\(printable(text))'")
            }
        }
        guard payloadType <= 127 else { return .invalid("'payload_type' must be an integer 0...127, got \(payloadType)") }
        guard Self.connectTimeoutRange.contains(connectTimeoutMs) else {
            return .invalid("'connect_timeout_ms' must be an integer 100...120000, got \(connectTimeoutMs)")
        }
        if let port = localPort, !(1...65535).contains(port) {
            return .invalid("'local_port' must be an integer 0...65535 (0: any), got \(port)")
        }
        return nil
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

    /// The TransStream it joins: senders of one stream with equal SSRC, payload type and track
    /// choice share its bytes.
    var format: RTPPSFormat {
        RTPPSFormat(ssrc: ssrc, payloadType: payloadType & 0x7F, audioOnly: audioOnly)
    }
}

/// Why a sender did not start; `description` is the reason for a client (the admin API's
/// message, a facade's `msg`).
public enum GBSenderError: Error, Sendable, Equatable, CustomStringConvertible {
    case disabled
    /// A field is wrong (400).
    case invalid(String)
    /// The stream is not live (404).
    case notLive(String)
    /// A sender like it exists, too many run, or a port is taken (409).
    case conflict(String)

    public var description: String {
        switch self {
        case .disabled: return "GB28181 is disabled (gb28181.enabled)"
        case .invalid(let why), .conflict(let why): return why
        case .notLive(let stream): return "stream \(stream) is not live"
        }
    }

    var adminFailure: AdminFailure {
        switch self {
        case .disabled, .conflict: return AdminFailure.conflict(description)
        case .invalid: return AdminFailure.badRequest(description)
        case .notLive: return AdminFailure.notFound(description)
        }
    }
}
