import Foundation

/// A config error names the field (`rtmp.port`) so the operator knows what to fix.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let message: String
    public var description: String { field.isEmpty ? message : "config field '\(field)': \(message)" }
}

/// Reads one JSON object strictly: every key it does not ask for is an error, so a typo never
/// silently falls back to a default.
struct ConfigReader {
    private let values: [String: JSONValue]
    private let path: String
    private var seen: Set<String> = []

    init(_ values: [String: JSONValue], path: String) {
        self.values = values
        self.path = path
    }

    private func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
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

    mutating func bool(_ key: String, default value: Bool) throws -> Bool {
        seen.insert(key)
        guard let raw = values[key] else { return value }
        guard case .bool(let bool) = raw else {
            throw ConfigError(field: field(key), message: "expected true or false, got \(raw.typeDescription)")
        }
        return bool
    }

    mutating func string(_ key: String, default value: String, oneOf allowed: [String]? = nil) throws -> String {
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

    mutating func object(_ key: String) throws -> ConfigReader {
        seen.insert(key)
        guard let raw = values[key] else { return ConfigReader([:], path: field(key)) }
        guard case .object(let dict) = raw else {
            throw ConfigError(field: field(key), message: "expected an object, got \(raw.typeDescription)")
        }
        return ConfigReader(dict, path: field(key))
    }

    /// Call after reading every known key.
    func rejectUnknownKeys() throws {
        if let unknown = values.keys.filter({ !seen.contains($0) }).sorted().first {
            throw ConfigError(field: field(unknown), message: "unknown key")
        }
    }
}
