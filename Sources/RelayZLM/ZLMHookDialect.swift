import Foundation
import NIOConcurrencyHelpers
import RelayCore
import RelayGB28181
import RelayHooks

/// The dialect's webhooks (ZLMediaKit `server/WebHook.cpp`), made from the core's events: every
/// body carries `mediaServerId` and `hook_index`; an answer allows when it is 2xx with `code` 0.
///
/// | event | hook |
/// |---|---|
/// | started | on_server_started (the getServerConfig map) |
/// | publish, play | on_publish (`stream_replace`, `enable_audio`), on_play |
/// | streamReady / publishDone | on_stream_changed `regist` true / false, per schema |
/// | idleTimeout | on_stream_none_reader (`close: true` closes; no answer keeps the stream) |
/// | streamNotFound | on_stream_not_found |
/// | receiverTimeout | on_rtp_server_timeout |
/// | senderStop | on_send_rtp_stopped |
/// | record | on_record_flv (the shape of on_record_mp4: recordings here are FLV) |
public final class ZLMHookDialect: HookDialect {
    private let settings: ZLMSettings
    /// The getServerConfig map, for on_server_started (set once the facade exists).
    private let configMap = NIOLockedValueBox<@Sendable () -> [String: String]>({ [:] })
    /// Streams announced with `regist: true`: only those are withdrawn.
    private let registered = NIOLockedValueBox<Set<String>>([])
    private let index = NIOLockedValueBox<UInt64>(0)
    /// Schemas a stream is announced in; GB platforms read the `rtsp` one, so it goes first.
    let schemas: [String]

    public init(settings: ZLMSettings, schemas: [String] = ["rtsp", "rtmp"]) {
        self.settings = settings
        self.schemas = schemas
    }

    public var metricPrefix: String { "zlm:" }

    public func setConfigMap(_ body: @escaping @Sendable () -> [String: String]) {
        configMap.withLockedValue { $0 = body }
    }

    public func hookName(_ event: HookEvent) -> String? {
        switch event {
        case .started: return "on_server_started"
        case .publish: return "on_publish"
        case .play: return "on_play"
        case .streamReady, .publishDone: return "on_stream_changed"
        case .idleTimeout: return "on_stream_none_reader"
        case .streamNotFound: return "on_stream_not_found"
        case .receiverTimeout: return "on_rtp_server_timeout"
        case .senderStop: return "on_send_rtp_stopped"
        case .record: return "on_record_flv"
        case .playDone, .receiveTimeout: return nil
        }
    }

    public func bodies(_ event: HookEvent, stream: String?, session: SessionInfo?, extra: [String: JSONValue]) -> [String] {
        let name = ZLMName.split(stream ?? "")
        var base: [String: JSONValue] = ["app": .string(name.app), "stream": .string(name.stream), "vhost": .string(ZLMName.vhost)]
        switch event {
        case .started:
            var map = configMap.withLockedValue { $0 }().mapValues { JSONValue.string($0) }
            map["mediaServerId"] = .string(settings.mediaServerID)
            return [body(map)]
        case .publish, .play, .streamNotFound:
            if let session { base.merge(Self.peer(session)) { a, _ in a } }
            if event == .publish, let session {
                let origin = ZLMName.origin(session.protocolName)
                base["originType"] = .number(Double(origin.type))
                base["originTypeStr"] = .string(origin.name)
            }
            return [body(base)]
        case .streamReady:
            guard let stream else { return [] }
            registered.withLockedValue { _ = $0.insert(stream) }
            let tracks: [JSONValue]
            if case .array(let list)? = extra["tracks"] { tracks = list } else { tracks = [] }
            base["regist"] = .bool(true)
            base["tracks"] = ZLMTracks.tracks(tracks, fps: 0)
            base["totalReaderCount"] = .number(0)
            base["aliveSecond"] = .number(0)
            base["bytesSpeed"] = .number(0)
            if let session {
                let origin = ZLMName.origin(session.protocolName)
                base["originType"] = .number(Double(origin.type))
                base["originTypeStr"] = .string(origin.name)
                base["originUrl"] = .string("\(origin.scheme)://\(ZLMName.vhost)/\(stream)")  // as getMediaList writes it
                base["params"] = .string(ZLMName.query(session.params))
                base["createStamp"] = .number(Date().timeIntervalSince1970.rounded(.down))
            }
            return schemas.map { schema in
                var b = base
                b["schema"] = .string(schema)
                return body(b)
            }
        case .publishDone:
            guard let stream, registered.withLockedValue({ $0.remove(stream) }) != nil else { return [] }
            base["regist"] = .bool(false)
            return schemas.map { schema in
                var b = base
                b["schema"] = .string(schema)
                return body(b)
            }
        case .idleTimeout:
            base["schema"] = .string(schemas.first ?? "rtsp")
            return [body(base)]
        case .receiverTimeout:
            var b: [String: JSONValue] = ["stream_id": .string(name.stream), "app": .string(name.app),
                                          "vhost": .string(ZLMName.vhost), "re_use_port": .bool(false)]
            b["local_port"] = extra["local_port"] ?? .number(0)
            let mode: GBMode? = if case .string(let text)? = extra["mode"] { GBMode(rawValue: text) } else { nil }
            b["tcp_mode"] = .number(Double(ZLMFacade.tcpMode(mode ?? .udp)))
            if case .string(let ssrc)? = extra["ssrc"], let n = UInt32(ssrc) { b["ssrc"] = .number(Double(n)) } else { b["ssrc"] = .number(0) }
            return [body(b)]
        case .senderStop:
            // The SSRC as the platform wrote it in startSendRtp (ten digits, as GB28181 writes SSRCs).
            if let ssrc = extra["ssrc"] { base["ssrc"] = ssrc }
            base["msg"] = extra["reason"] ?? .string("")
            base["originType"] = .number(3)
            return [body(base)]
        case .record:
            let path = extra["path"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
            let url = path.split(separator: "/").last.map(String.init) ?? path
            base["file_name"] = .string(url)
            base["file_path"] = .string(path)
            base["file_size"] = extra["size"] ?? .number(0)
            base["folder"] = .string((path as NSString).deletingLastPathComponent)
            base["url"] = extra["file"] ?? .string(url)
            if case .number(let ms)? = extra["start_ms"] { base["start_time"] = .number((ms / 1000).rounded(.down)) }
            if case .number(let ms)? = extra["duration_ms"] { base["time_len"] = .number(ms / 1000) }
            return [body(base)]
        case .playDone, .receiveTimeout:
            return []
        }
    }

    public func decision(_ event: HookEvent, stream: String, status: Int, answer: JSONValue?, reason: String?) -> HookDecision {
        let hook = hookName(event) ?? event.rawValue
        let msg: String
        if case .string(let m)? = answer?["msg"] { msg = m } else { msg = reason ?? "" }
        guard (200..<300).contains(status), let answer, Self.int(answer["code"]) == 0 else {
            if event == .idleTimeout { return keep("\(hook) did not answer code 0: the stream stays") }
            let code = answer.flatMap { Self.int($0["code"]) }.map { "code \($0)" } ?? "HTTP \(status)"
            return HookDecision(allowed: false, status: status == 200 ? 403 : status, reason: "\(hook) answered \(code)\(msg.isEmpty ? "" : ": \(msg)")")
        }
        var native: [String: JSONValue] = [:]
        switch event {
        case .publish:
            if case .string(let replace)? = answer["stream_replace"], !replace.isEmpty {
                native["stream_replace"] = .string(ZLMName.join(app: ZLMName.split(stream).app, stream: replace))
            }
            if let audio = Self.bool(answer["enable_audio"]) { native["enable_audio"] = .bool(audio) }
        case .idleTimeout:
            native["keep"] = .bool(Self.bool(answer["close"]) != true)
        default:
            break
        }
        return HookDecision(allowed: true, status: status, reason: msg.isEmpty ? "allowed" : msg, answer: .object(native))
    }

    public func unanswered(_ event: HookEvent, failOpen: Bool, reason: String) -> HookDecision {
        let hook = hookName(event) ?? event.rawValue
        // The dialect closes an unwatched stream only when told to.
        if event == .idleTimeout { return keep("\(hook) \(reason): the stream stays") }
        return HookDecision(allowed: failOpen, status: 0, reason: "\(hook) hook \(reason)\(failOpen ? " (fail-open)" : "")")
    }

    /// on_server_keepalive's body.
    func keepaliveBody(data: [String: JSONValue]) -> String {
        body(["data": .object(data)])
    }

    // MARK: shapes

    private func keep(_ reason: String) -> HookDecision {
        HookDecision(allowed: true, status: 0, reason: reason, answer: .object(["keep": .bool(true)]))
    }

    private func body(_ fields: [String: JSONValue]) -> String {
        var fields = fields
        fields["mediaServerId"] = .string(settings.mediaServerID)
        fields["hook_index"] = .number(Double(index.withLockedValue { $0 &+= 1; return $0 }))
        return HookBody.json(.object(fields))
    }

    /// `ip`, `port`, `id`, `schema`, `params` of the session that asks.
    static func peer(_ session: SessionInfo) -> [String: JSONValue] {
        let peer = ZLMName.hostPort(session.remoteAddress) ?? (session.remoteAddress, 0)
        return ["ip": .string(peer.host), "port": .number(Double(peer.port)), "id": .string(session.sessionID),
                "schema": .string(schema(session.protocolName)), "params": .string(ZLMName.query(session.params))]
    }

    /// The dialect's schema of a session's protocol.
    static func schema(_ protocolName: String) -> String {
        switch protocolName {
        case "flv", "ws-flv": return "http"
        case "gb28181", "jt1078": return "rtp"
        default: return protocolName
        }
    }




    /// A number or a numeric string (answers write both).
    static func int(_ value: JSONValue?) -> Int? {
        switch value {
        case .number(let n)?: return Int(exactly: n)
        case .string(let s)?: return Int(s)
        default: return nil
        }
    }

    /// A bool, 0/1 or "true"/"false"/"1"/"0".
    static func bool(_ value: JSONValue?) -> Bool? {
        switch value {
        case .bool(let b)?: return b
        case .number(let n)?: return n != 0
        case .string(let s)?: return ["1", "true"].contains(s.lowercased()) ? true : ["0", "false"].contains(s.lowercased()) ? false : nil
        default: return nil
        }
    }
}
