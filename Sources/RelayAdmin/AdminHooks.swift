import Foundation
import Hummingbird
import NIOCore
import RelayCore

/// Hook reloading (`POST /api/v1/hooks/reload`).
extension AdminAPI {
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
                hooks = try RelayConfig.parse(JSONValue.object(["hooks": .object(body)]).data(), sections: []).hooks
            } catch let error as ConfigError {
                throw AdminError(.badRequest, error.description)
            }
            origin = "body"
        } else {
            guard let path = env.configPath else {
                throw AdminError(.conflict, "the server was started without a config file: send the hooks section as the body")
            }
            do {
                hooks = try RelayConfig.load(path: path, sections: env.configSections).hooks
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
