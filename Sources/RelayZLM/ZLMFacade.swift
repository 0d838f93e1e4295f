import Logging
import RelayCore
import RelayGB28181

/// ZLMediaKit's control dialect (`/index/api/*`) over the core and the GB28181 module, so a GB
/// platform (wvp-GB28181-pro …) can drive this server as its media node. Served on the HTTP-FLV
/// port and the admin port (`httpRoutes`); only when `zlm.enabled`. It maps every call onto
/// what exists (GB28181 receivers and senders, the stream registry); it keeps no media state.
public final class ZLMFacade: ProtocolModule {
    public let name = "zlm"
    public var sessionProtocols: [String] { [] }

    let context: RelayContext
    let gb28181: GB28181Service
    let settings: ZLMSettings
    let config: ZLMConfig
    /// Listener ports by name: "rtmp", "http_flv", "rtsp", "admin", "gb28181_udp", "gb28181_tcp".
    let ports: @Sendable () -> [String: Int]
    let logger: Logger
    let snaps = ZLMSnapshotLimiter(max: 4)

    public init(context: RelayContext, gb28181: GB28181Service, settings: ZLMSettings,
                ports: @escaping @Sendable () -> [String: Int]) {
        self.context = context
        self.gb28181 = gb28181
        self.settings = settings
        self.config = context.config.zlm
        self.ports = ports
        var logger = context.logger
        logger[metadataKey: "api"] = "zlm"
        self.logger = logger
    }

    public func start() async throws {}
    public func stop() async {}

    /// `zlm` in `GET /api/v1/server`'s config: whether the dialect is served.
    public var serverConfig: [String: JSONValue] { ["zlm": .bool(config.enabled)] }

    public var httpRoutes: [HTTPRoute] {
        guard config.enabled else { return [] }
        return [HTTPRoute(prefix: Self.prefix) { [self] call in await self.handle(call) }]
    }

    static let prefix = "/index/api/"

    // MARK: dispatch

    /// One route: its parameters in, its result out; throws `ZLMFailure` (or a GB28181 error,
    /// mapped by `failure(for:)`).
    typealias Route = @Sendable (ZLMFacade, ZLMParams) async throws -> ZLMResult

    /// By lowercased name: the dialect matches routes case-insensitively (WebApi.cpp `s_map_api`
    /// is a `StrCaseCompare` map).
    static let routes: [String: Route] = {
        var all: [String: Route] = [:]
        for table in [rtpRoutes, sendRoutes, mediaRoutes, serverRoutes] {
            for (name, route) in table { all[name.lowercased()] = route }
        }
        return all
    }()

    /// Route names as the dialect spells them (getApiList).
    static var routeNames: [String] {
        (rtpRoutes.map(\.0) + sendRoutes.map(\.0) + mediaRoutes.map(\.0) + serverRoutes.map(\.0)).sorted()
    }

    func handle(_ call: HTTPCall) async -> HTTPAnswer {
        var name = Substring(call.path.dropFirst(Self.prefix.count))
        while name.hasSuffix("/") { name = name.dropLast() }
        guard call.path.hasPrefix(Self.prefix), let route = Self.routes[name.lowercased()] else {
            // HTTP 200 with -500 rather than 404: a platform turns any non-2xx into its own
            // "node unreachable" (-2), which would take the whole node offline for one route.
            return ZLMReply.json(code: .notFound, msg: "unsupported API: \(printableStreamID(String(name)))")
        }
        let params = ZLMParams(query: call.query, contentType: call.contentType, body: call.body)
        if let refusal = checkSecret(params, call) {
            logger.debug("zlm \(name) from \(call.remoteIP) refused: \(refusal.msg)")
            return ZLMReply.failure(refusal)
        }
        if let why = params.bodyError { return ZLMReply.failure(ZLMFailure(.invalidArgs, why)) }
        do {
            return ZLMReply.answer(try await route(self, params))
        } catch let f as ZLMFailure {
            logger.debug("zlm \(name): \(f.code.rawValue) \(f.msg)")
            return ZLMReply.failure(f)
        } catch {
            let f = Self.failure(for: error)
            logger.debug("zlm \(name): \(f.code.rawValue) \(f.msg)")
            return ZLMReply.failure(f)
        }
    }

    /// The dialect's `api.secret` check (WebApi.cpp `check_secret`), compared in constant time;
    /// loopback callers pass without one when `zlm.loopback_without_secret`. An empty configured
    /// secret matches nothing.
    func checkSecret(_ params: ZLMParams, _ call: HTTPCall) -> ZLMFailure? {
        if config.loopbackWithoutSecret && call.isLoopback { return nil }
        guard let given = params["secret"] else { return ZLMFailure(.authFailed, "Required parameter missed: secret") }
        return Self.sameSecret(given, settings.secret) ? nil : ZLMFailure(.authFailed, "Incorrect secret")
    }

    static func sameSecret(_ given: String, _ expected: String) -> Bool {
        let a = Array(given.utf8), b = Array(expected.utf8)
        guard !b.isEmpty else { return false }
        var diff: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }

    /// GB28181 refusals in the dialect's codes: bad arguments -300, missing receiver -500, a port
    /// that cannot be bound -400 (ZLMediaKit throws there), the rest -1.
    static func failure(for error: any Error) -> ZLMFailure {
        if let f = error as? ZLMFailure { return f }
        guard let gb = error as? GBError else { return ZLMFailure(.otherFailed, "\(error)") }
        switch gb {
        case .noReceiver: return ZLMFailure(.notFound, gb.description)
        case .duplicateStream: return ZLMFailure(.invalidArgs, "This stream already exists: \(gb)")
        case .invalidStreamID, .invalidSSRC, .ssrcRequired, .noSharedPort, .deviceAddressRequired, .invalidDeviceAddress,
             .notForActive, .notTCPActive, .invalidPortRange, .duplicateSSRC:
            return ZLMFailure(.invalidArgs, gb.description)
        case .noFreePort, .bindFailed: return ZLMFailure(.exception, gb.description)
        default: return ZLMFailure(.otherFailed, gb.description)
        }
    }

    // MARK: names

    /// `app/stream` from the dialect's pair, checked.
    func streamID(app: String, stream: String) throws(ZLMFailure) -> String {
        let id = ZLMName.join(app: app, stream: stream)
        guard !app.isEmpty, isValidStreamID(id) else {
            throw ZLMFailure(.invalidArgs, "'\(printableStreamID(id))' is not a valid app/stream (letters, digits, -_.~)")
        }
        return id
    }

    /// The receiver's id of `stream_id` under `app` (default `zlm.rtp_app`): `rtp/STREAM_ID`.
    func rtpStreamID(_ p: ZLMParams) throws -> String {
        try streamID(app: p["app"] ?? config.rtpApp, stream: p.required("stream_id"))
    }
}
