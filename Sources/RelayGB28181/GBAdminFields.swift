import RelayCore

/// Fields the GB28181 admin bodies share (receivers, senders), each checked one way: a 400 that
/// names the field and what it must be.
enum GBAdminField {
    /// Refuses a key not in `allowed`; `expected` lists them for the message.
    static func rejectUnknown(_ body: [String: JSONValue], allowed: Set<String>, expected: String) throws {
        if let unknown = body.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw AdminFailure.badRequest("unknown field '\(printable(unknown))' (expected \(expected))")
        }
    }

    /// `stream`: required, a valid stream id; `what` says which stream is meant.
    static func stream(_ body: [String: JSONValue], what: String) throws -> String {
        guard case .string(let stream)? = body["stream"] else {
            throw AdminFailure.badRequest("'stream' is required: \(what)")
        }
        guard isValidStreamID(stream) else {
            throw AdminFailure.badRequest("'\(printable(stream))' is not a valid stream id (app/stream: letters, digits, -_.~)")
        }
        return stream
    }

    /// `ssrc`: ten decimal digits as GB28181 writes them; nil when absent.
    static func ssrc(_ body: [String: JSONValue]) throws -> UInt32? {
        switch body["ssrc"] {
        case nil:
            return nil
        case .string(let text)?:
            do { return try GBSSRC.parse(text) } catch { throw AdminFailure.badRequest(error.description) }
        case let other?:
            throw AdminFailure.badRequest("'ssrc' must be a string of up to ten digits (\"0100000001\"), got \(other.kindDescription)")
        }
    }

    /// `mode`: udp (when absent), tcp-passive or tcp-active.
    static func mode(_ body: [String: JSONValue]) throws -> GBMode {
        switch body["mode"] {
        case nil:
            return .udp
        case .string(let text)?:
            guard let mode = GBMode(rawValue: text) else {
                throw AdminFailure.badRequest("'mode' must be udp, tcp-passive or tcp-active, got '\(printable(text))'")
            }
            return mode
        case let other?:
            throw AdminFailure.badRequest("'mode' must be udp, tcp-passive or tcp-active, got \(other.kindDescription)")
        }
    }
}
