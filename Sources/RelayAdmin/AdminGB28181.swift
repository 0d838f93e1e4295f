import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import RelayCore
import RelayGB28181

/// GB28181 receivers (open / list / close) and hook reloading.
extension AdminAPI {
    func gbService() throws -> GB28181Service {
        guard let gb = env.gb28181, env.context.config.gb28181.enabled else {
            throw AdminError(.conflict, "GB28181 ingest is disabled (gb28181.enabled)")
        }
        return gb
    }

    /// The address devices send to: `gb28181.host` unless it is a wildcard, else this machine's
    /// first non-loopback IPv4 address (127.0.0.1 when it has none).
    func announcedIP() -> String {
        let host = env.context.config.gb28181.host
        if host != "0.0.0.0" && host != "::" && !host.isEmpty { return host }
        let devices = (try? System.enumerateDevices()) ?? []
        for d in devices {
            if d.address?.protocol == .inet, let ip = d.address?.ipAddress, !ip.hasPrefix("127.") { return ip }
        }
        return "127.0.0.1"
    }

    func receiverBody(_ r: GBReceiverInfo, ip: String) -> GBReceiverBody {
        GBReceiverBody(stream: r.streamID, ssrc: r.ssrcString, mode: r.mode.rawValue,
                       ip: r.mode == .tcpActive ? (r.remoteAddress.map(hostOf) ?? ip) : ip,
                       port: r.port, sharedPort: r.sharedPort, state: r.state.rawValue, configured: r.isStatic,
                       remoteAddress: r.remoteAddress, packets: r.packets, bytes: r.bytes, lost: r.lost, sessions: r.sessions,
                       foreignPackets: r.foreignPackets, malformedPackets: r.malformedPackets, repins: r.repins)
    }

    func listReceivers(_ request: Request, _ context: Context) async throws -> Response {
        let gb = try gbService()
        let ip = announcedIP()
        let list = gb.list().map { receiverBody($0, ip: ip) }
        return try json(GBReceiverList(count: list.count, receivers: list))
    }

    func getReceiver(_ request: Request, _ context: Context) async throws -> Response {
        let gb = try gbService()
        let id = try streamID(context)
        guard let r = gb.receiver(id) else { throw AdminError(.notFound, "no GB28181 receiver for \(id)") }
        return try json(receiverBody(r.info, ip: announcedIP()))
    }

    func closeReceiver(_ request: Request, _ context: Context) async throws -> Response {
        let gb = try gbService()
        let id = try streamID(context)
        guard await gb.close(streamID: id) else { throw AdminError(.notFound, "no GB28181 receiver for \(id)") }
        return try json(GBReceiverClosed(stream: id, closed: true))
    }

    /// The body of `POST /api/v1/gb28181/receivers`, checked field by field.
    struct OpenRequest: Equatable {
        var stream: String
        var ssrc: UInt32?
        var mode: GBMode
        var port: GBPort
        var device: String?

        static let keys: Set<String> = ["stream", "ssrc", "mode", "port", "device"]

        init(_ body: [String: JSONValue]) throws {
            if let unknown = body.keys.sorted().first(where: { !Self.keys.contains($0) }) {
                throw AdminError(.badRequest, "unknown field '\(printable(unknown))' (expected stream, ssrc, mode, port, device)")
            }
            guard case .string(let stream)? = body["stream"] else {
                throw AdminError(.badRequest, "'stream' is required: the stream id (e.g. \"gb/34020000001320000001\")")
            }
            guard isValidStreamID(stream) else {
                throw AdminError(.badRequest, "'\(printable(stream))' is not a valid stream id (app/stream: letters, digits, -_.~)")
            }
            self.stream = stream
            switch body["ssrc"] {
            case nil:
                ssrc = nil
            case .string(let text)?:
                do { ssrc = try GBSSRC.parse(text) } catch { throw AdminError(.badRequest, error.description) }
            case let other?:
                throw AdminError(.badRequest, "'ssrc' must be a string of up to ten digits (\"0100000001\"), got \(describe(other))")
            }
            switch body["mode"] {
            case nil:
                mode = .udp
            case .string(let text)?:
                guard let m = GBMode(rawValue: text) else {
                    throw AdminError(.badRequest, "'mode' must be udp, tcp-passive or tcp-active, got '\(printable(text))'")
                }
                mode = m
            case let other?:
                throw AdminError(.badRequest, "'mode' must be udp, tcp-passive or tcp-active, got \(describe(other))")
            }
            switch body["device"] {
            case nil:
                device = nil
            case .string(let text)?:
                device = text
            case let other?:
                throw AdminError(.badRequest, "'device' must be the device's \"host:port\", got \(describe(other))")
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
                    throw AdminError(.badRequest, "'port' must be 1...65535, \"shared\" or \"auto\", got \(n)")
                }
                port = .fixed(p)
            case let other?:
                throw AdminError(.badRequest, "'port' must be 1...65535, \"shared\" or \"auto\", got \(describe(other))")
            }
            if mode == .tcpActive {
                guard let device, !device.isEmpty else {
                    throw AdminError(.badRequest, "tcp-active needs 'device': the device's \"host:port\" that the server dials")
                }
                guard Self.isHostPort(device) else {
                    throw AdminError(.badRequest, "'device' must be \"host:port\" (port 1...65535), got '\(printable(device))'")
                }
                if body["port"] != nil {
                    throw AdminError(.badRequest, "'port' is not for tcp-active: the server dials 'device'")
                }
            } else if device != nil {
                throw AdminError(.badRequest, "'device' is only for tcp-active (the server dials the device)")
            }
            if port == .shared && ssrc == nil && mode != .tcpActive {
                throw AdminError(.badRequest, "a receiver on the shared port needs an 'ssrc' (or use \"port\": \"auto\")")
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

    func openReceiver(_ request: Request, _ context: Context) async throws -> Response {
        guard let body = try await jsonObject(request, limit: config.maxBodyBytes) else {
            throw AdminError(.badRequest, "a JSON body is required: {\"stream\", \"ssrc\", \"mode\", \"port\", \"device\"}")
        }
        let open = try OpenRequest(body)
        let gb = try gbService()
        let receiver: GBReceiver
        do {
            receiver = try await gb.open(streamID: open.stream, ssrc: open.ssrc, mode: open.mode, port: open.port,
                                         deviceAddress: open.device)
        } catch let error as GBError {
            throw AdminError(Self.status(error), error.description)
        }
        context.logger.info("admin API opened GB28181 receiver \(open.stream)")
        return try json(receiverBody(receiver.info, ip: announcedIP()), status: .created)
    }

    static func status(_ error: GBError) -> HTTPResponse.Status {
        switch error {
        case .invalidStreamID, .ssrcRequired, .deviceAddressRequired, .invalidDeviceAddress, .invalidSSRC, .notForActive:
            return .badRequest
        case .disabled, .notStarted, .duplicateStream, .streamPublished, .duplicateSSRC, .noSharedPort, .noFreePort, .bindFailed:
            return .conflict
        }
    }

    // MARK: hooks

    /// Re-reads the `hooks` section: from the request body (the section itself, as config.json
    /// writes it) or, without a body, from the config file the server was started with.
    func reloadHooks(_ request: Request, _ context: Context) async throws -> Response {
        guard let reload = env.reloadHooks else {
            throw AdminError(.conflict, "hooks cannot be reloaded in this server")
        }
        let body = try await jsonObject(request, limit: config.maxBodyBytes)
        let hooks: RelayConfig.Hooks
        let origin: String
        if let body {
            do {
                hooks = try RelayConfig.parse(JSONValue.object(["hooks": .object(body)]).data()).hooks
            } catch let error as ConfigError {
                throw AdminError(.badRequest, error.description)
            }
            origin = "body"
        } else {
            guard let path = env.configPath else {
                throw AdminError(.conflict, "the server was started without a config file: send the hooks section as the body")
            }
            do {
                hooks = try RelayConfig.load(path: path).hooks
            } catch let error as ConfigError {
                throw AdminError(.conflict, "\(path): \(error.description)")
            }
            origin = path
        }
        try await reload(hooks)
        let names = HookEvent.allCases.map(\.rawValue).filter { hooks.endpoints[$0] != nil }
        context.logger.info("admin API reloaded hooks from \(origin): \(names.isEmpty ? "none" : names.joined(separator: ", "))")
        return try json(HooksReloaded(reloaded: true, source: origin == "body" ? "body" : "file", hooks: names))
    }
}

/// "1.2.3.4:5" → "1.2.3.4"; "[::1]:5" → "::1".
func hostOf(_ address: String) -> String {
    guard let colon = address.lastIndex(of: ":") else { return address }
    var host = String(address[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return host
}

extension JSONValue {
    /// Serialises back to JSON text (to feed a section through the config parser).
    func data() -> Data {
        var out = ""
        write(&out)
        return Data(out.utf8)
    }

    private func write(_ out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n):
            if n == n.rounded(), abs(n) < 1e15 { out += String(Int(n)) } else { out += String(n) }
        case .string(let s): out += quoted(s)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(&out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, (k, v)) in o.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out += "," }
                out += quoted(k)
                out += ":"
                v.write(&out)
            }
            out += "}"
        }
    }

    private func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
