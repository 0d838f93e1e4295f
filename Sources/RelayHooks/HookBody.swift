import RelayCore

/// The JSON body POSTed to a hook (hooks/README.md):
/// `{"event","stream","protocol","remote_addr","session_id","params":{…}, …event fields}`.
public enum HookBody {
    /// Common fields first, then the event's own fields (sorted); an event field never replaces a
    /// common one. `stream` and the session fields are left out when nil (on_started).
    public static func make(_ event: HookEvent, stream: String?, session: SessionInfo?,
                            extra: [String: JSONValue]) -> String {
        var fields: [(String, JSONValue)] = [("event", .string(event.rawValue))]
        if let stream { fields.append(("stream", .string(stream))) }
        if let session {
            fields.append(("protocol", .string(session.protocolName)))
            fields.append(("remote_addr", .string(session.remoteAddress)))
            fields.append(("session_id", .string(session.sessionID)))
            fields.append(("params", .object(session.params.mapValues { .string($0) })))
        }
        let taken = Set(fields.map(\.0))
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) where !taken.contains(key) {
            fields.append((key, value))
        }
        var out = "{"
        for (i, (key, value)) in fields.enumerated() {
            if i > 0 { out += "," }
            writeString(key, into: &out)
            out += ":"
            write(value, into: &out)
        }
        return out + "}"
    }

    /// Compact JSON text of a value (object keys sorted, integers without a fraction).
    public static func json(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n):
            if !n.isFinite {
                out += "null"
            } else if n == n.rounded(), abs(n) < 9.0e15 {
                out += String(Int64(n))
            } else {
                out += "\(n)"
            }
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, into: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, entry) in object.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out += "," }
                writeString(entry.key, into: &out)
                out += ":"
                write(entry.value, into: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
