import Foundation
import RelayCore

/// A call's parameters as the dialect reads them (WebApi.cpp `getAllArgs`): a form body
/// (`application/x-www-form-urlencoded`) or a JSON object body (each value as a string), then the
/// query string, which wins over the body for the same key. Keys are case-insensitive
/// (`StrCaseCompare`) and an empty value counts as absent (`CHECK_ARGS`).
struct ZLMParams: Sendable {
    /// Lowercased key → (key as sent, value).
    private var values: [String: (key: String, value: String)] = [:]
    /// Why the body could not be read (a malformed JSON body); reported after the secret check.
    private(set) var bodyError: String?

    init(query: String, contentType: String?, body: [UInt8]) {
        let type = contentType?.lowercased() ?? ""
        if !body.isEmpty {
            if type.hasPrefix("application/x-www-form-urlencoded") {
                add(form: String(decoding: body, as: UTF8.self))
            } else if type.hasPrefix("application/json") {
                add(json: body)
            }
        }
        add(form: query)
    }

    /// For tests and internal calls.
    init(_ pairs: [String: String]) {
        for (k, v) in pairs { values[k.lowercased()] = (k, v) }
    }

    private mutating func add(form: String) {
        guard !form.isEmpty else { return }
        for (k, v) in splitQuery(Substring("?" + form)).params where !k.isEmpty {
            values[k.lowercased()] = (k, v)
        }
    }

    private mutating func add(json body: [UInt8]) {
        guard case .object(let object)? = try? JSONValue.parse(Data(body)) else {
            bodyError = "the body is not a JSON object"
            return
        }
        for (k, v) in object where !k.isEmpty {
            let text: String?
            switch v {
            case .string(let s): text = s
            case .bool(let b): text = b ? "1" : "0"
            case .number(let n): text = Int64(exactly: n).map(String.init) ?? (n.isFinite ? String(n) : nil)
            case .null: text = ""
            case .array, .object: text = nil  // not a parameter value; ignored
            }
            if let text { values[k.lowercased()] = (k, text) }
        }
    }

    /// The value, nil when absent or empty.
    subscript(key: String) -> String? {
        guard let v = values[key.lowercased()]?.value, !v.isEmpty else { return nil }
        return v
    }

    /// Every parameter as sent (setServerConfig reads all of them).
    var all: [(key: String, value: String)] { values.values.sorted { $0.key < $1.key } }

    /// Throws the dialect's -300 naming the absent ones.
    func require(_ keys: String...) throws(ZLMFailure) {
        let missing = keys.filter { self[$0] == nil }
        if !missing.isEmpty { throw .missing(missing) }
    }

    func required(_ key: String) throws(ZLMFailure) -> String {
        guard let v = self[key] else { throw .missing([key]) }
        return v
    }

    /// A whole number in `range`; `fallback` when absent.
    func int(_ key: String, in range: ClosedRange<Int>, default fallback: Int) throws(ZLMFailure) -> Int {
        guard let text = self[key] else { return fallback }
        guard let n = Self.integer(text), range.contains(n) else {
            throw ZLMFailure(.invalidArgs, "'\(key)' must be an integer \(range.lowerBound)...\(range.upperBound), got '\(printableStreamID(text))'")
        }
        return n
    }

    /// "1"/"0", "true"/"false", "yes"/"no"; `fallback` when absent.
    func bool(_ key: String, default fallback: Bool = false) throws(ZLMFailure) -> Bool {
        guard let text = self[key] else { return fallback }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            guard let n = Self.integer(text) else {
                throw ZLMFailure(.invalidArgs, "'\(key)' must be 0 or 1, got '\(printableStreamID(text))'")
            }
            return n != 0
        }
    }

    /// A port 0...65535; 0 when absent.
    func port(_ key: String) throws(ZLMFailure) -> Int {
        try int(key, in: 0...65535, default: 0)
    }

    /// A decimal SSRC (0...4294967295); nil when absent or 0 (the dialect's "no SSRC filter").
    func ssrc(_ key: String = "ssrc") throws(ZLMFailure) -> UInt32? {
        guard let text = self[key] else { return nil }
        guard text.utf8.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = UInt64(text),
              let ssrc = UInt32(exactly: v) else {
            throw ZLMFailure(.invalidArgs, "'\(key)' must be a decimal SSRC 0...4294967295, got '\(printableStreamID(text))'")
        }
        return ssrc == 0 ? nil : ssrc
    }

    /// Decimal digits with an optional sign, at most 18 digits (never overflows).
    static func integer(_ text: String) -> Int? {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        var negative = false
        if let first = digits.first, first == "-" || first == "+" {
            negative = first == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.count <= 18, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(digits) else {
            return nil
        }
        return negative ? -n : n
    }
}
