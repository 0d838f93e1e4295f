import Foundation

/// A config error names the field (`rtmp.port`) so the operator knows what to fix.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let message: String
    public var description: String { field.isEmpty ? message : "config field '\(field)': \(message)" }

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// Reads one JSON object strictly: every key it does not ask for is an error, so a typo never
/// silently falls back to a default. Errors name the full key (`rtmp.chunk_size`).
public struct ConfigReader {
    private let values: [String: JSONValue]
    private let path: String
    private var seen: Set<String> = []

    public init(_ values: [String: JSONValue], path: String) {
        self.values = values
        self.path = path
    }

    private func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public mutating func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        seen.insert(key)
        guard let raw = values[key] else { return value }
        guard case .number(let number) = raw, let int = Int(exactly: number) else {
            throw ConfigError(field: field(key), message: "expected an integer, got \(raw.typeDescription)")
        }
        guard range.contains(int) else {
            throw ConfigError(field: field(key), message: "\(int) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return int
    }

    public mutating func bool(_ key: String, default value: Bool) throws -> Bool {
        seen.insert(key)
        guard let raw = values[key] else { return value }
        guard case .bool(let bool) = raw else {
            throw ConfigError(field: field(key), message: "expected true or false, got \(raw.typeDescription)")
        }
        return bool
    }

    public mutating func string(_ key: String, default value: String, oneOf allowed: [String]? = nil) throws -> String {
        seen.insert(key)
        guard let raw = values[key] else { return value }
        guard case .string(let string) = raw else {
            throw ConfigError(field: field(key), message: "expected a string, got \(raw.typeDescription)")
        }
        if let allowed, !allowed.contains(string) {
            throw ConfigError(field: field(key), message: "'\(string)' is not one of \(allowed.joined(separator: ", "))")
        }
        return string
    }

    public mutating func object(_ key: String) throws -> ConfigReader {
        seen.insert(key)
        guard let raw = values[key] else { return ConfigReader([:], path: field(key)) }
        guard case .object(let dict) = raw else {
            throw ConfigError(field: field(key), message: "expected an object, got \(raw.typeDescription)")
        }
        return ConfigReader(dict, path: field(key))
    }

    /// The raw value of a key that takes more than one shape (a URL string or an object); nil
    /// when absent.
    public mutating func value(_ key: String) -> JSONValue? {
        seen.insert(key)
        return values[key]
    }

    /// A reader for an object found under `key` by `value(_:)`.
    public func nested(_ key: String, _ object: [String: JSONValue]) -> ConfigReader {
        ConfigReader(object, path: field(key))
    }

    /// An error naming `key` in this object.
    public func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError(field: field(key), message: message)
    }

    public mutating func stringArray(_ key: String, default value: [String]) throws -> [String] {
        seen.insert(key)
        guard let raw = values[key] else { return value }
        guard case .array(let items) = raw else {
            throw ConfigError(field: field(key), message: "expected an array of strings, got \(raw.typeDescription)")
        }
        return try items.map { item in
            guard case .string(let s) = item else {
                throw ConfigError(field: field(key), message: "expected an array of strings, found \(item.typeDescription)")
            }
            return s
        }
    }

    /// Call after reading every known key.
    public func rejectUnknownKeys() throws {
        if let unknown = values.keys.filter({ !seen.contains($0) }).sorted().first {
            throw ConfigError(field: field(unknown), message: "unknown key")
        }
    }

    /// `enabled`, `host` and `port` of a section that has a listener.
    public mutating func listener(port: Int, host: String = "0.0.0.0") throws -> RelayConfig.Listener {
        RelayConfig.Listener(enabled: try bool("enabled", default: true),
                             host: try string("host", default: host),
                             port: try int("port", default: port, in: 0...65535))
    }
}
