import Foundation
import RelayCore
import Yams

/// openapi.yaml (repo root) loaded with Yams, and a validator for the JSON Schema subset it uses
/// (type, properties, required, additionalProperties, items, enum, minimum/maximum, maxLength,
/// pattern, oneOf, allOf, $ref), so tests can check live answers against it.
struct OpenAPISpec {
    let root: [String: Any]

    static let path: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("openapi.yaml").path

    static func load() throws -> OpenAPISpec {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let root = try Yams.load(yaml: text) as? [String: Any] else { throw SpecError.invalid("top level is not a mapping") }
        return OpenAPISpec(root: root)
    }

    var paths: [String: [String: Any]] {
        (root["paths"] as? [String: Any] ?? [:]).compactMapValues { $0 as? [String: Any] }
    }

    /// Every (METHOD, path) the spec documents.
    var operations: Set<String> {
        var out = Set<String>()
        for (path, item) in paths {
            for method in ["get", "put", "post", "delete", "patch", "head", "options", "trace"] where item[method] != nil {
                out.insert("\(method.uppercased()) \(path)")
            }
        }
        return out
    }

    func schema(named name: String) -> Any? {
        ((root["components"] as? [String: Any])?["schemas"] as? [String: Any])?[name]
    }

    func operation(_ method: String, _ path: String) -> [String: Any]? {
        paths[path]?[method.lowercased()] as? [String: Any]
    }

    /// The schema of the JSON answer `status` of an operation (following `$ref` to components/responses).
    func responseSchema(_ method: String, _ path: String, status: Int) -> Any? {
        guard let op = operation(method, path), let responses = op["responses"] as? [String: Any],
              var response = responses[String(status)] as? [String: Any] else { return nil }
        if let ref = response["$ref"] as? String {
            let name = ref.components(separatedBy: "/").last ?? ""
            response = ((root["components"] as? [String: Any])?["responses"] as? [String: Any])?[name] as? [String: Any] ?? [:]
        }
        return ((response["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"]
    }

    /// Problems of `value` against `schema` (empty: valid).
    func validate(_ value: JSONValue, against schema: Any, at path: String = "$") -> [String] {
        guard var s = schema as? [String: Any] else { return [] }
        if let ref = s["$ref"] as? String {
            let name = ref.components(separatedBy: "/").last ?? ""
            guard let target = self.schema(named: name) else { return ["\(path): unknown $ref \(ref)"] }
            return validate(value, against: target, at: path)
        }
        var problems: [String] = []
        if let all = s["allOf"] as? [Any] {
            for sub in all { problems += validate(value, against: sub, at: path) }
            s["allOf"] = nil
        }
        if let one = s["oneOf"] as? [Any] {
            let matching = one.filter { validate(value, against: $0, at: path).isEmpty }.count
            if matching != 1 { problems.append("\(path): matches \(matching) of oneOf's \(one.count) schemas") }
        }
        if let type = s["type"] {
            let types = (type as? [String]) ?? [type as? String ?? ""]
            if !types.contains(where: { Self.isType(value, $0) }) {
                return problems + ["\(path): expected \(types.joined(separator: "|")), got \(value)"]
            }
        }
        if let allowed = s["enum"] as? [Any] {
            let text: String
            switch value {
            case .string(let v): text = v
            case .number(let n): text = n == n.rounded() ? String(Int(n)) : String(n)
            case .bool(let b): text = String(b)
            default: text = "\(value)"
            }
            if !allowed.contains(where: { "\($0)" == text }) { problems.append("\(path): \(text) is not one of \(allowed)") }
        }
        if case .number(let n) = value {
            if let min = Self.double(s["minimum"]), n < min { problems.append("\(path): \(n) < minimum \(min)") }
            if let max = Self.double(s["maximum"]), n > max { problems.append("\(path): \(n) > maximum \(max)") }
        }
        if case .string(let str) = value {
            if let max = s["maxLength"] as? Int, str.count > max { problems.append("\(path): longer than \(max)") }
            if let pattern = s["pattern"] as? String {
                if let re = try? NSRegularExpression(pattern: pattern) {
                    if re.firstMatch(in: str, range: NSRange(str.startIndex..., in: str)) == nil {
                        problems.append("\(path): '\(str)' does not match \(pattern)")
                    }
                } else {
                    problems.append("\(path): pattern \(pattern) does not compile")
                }
            }
        }
        if case .object(let object) = value {
            let properties = s["properties"] as? [String: Any] ?? [:]
            for key in s["required"] as? [String] ?? [] where object[key] == nil {
                problems.append("\(path): missing required '\(key)'")
            }
            for (key, v) in object {
                if let sub = properties[key] {
                    problems += validate(v, against: sub, at: "\(path).\(key)")
                } else if let extra = s["additionalProperties"] {
                    if let allowed = extra as? Bool {
                        if !allowed { problems.append("\(path): '\(key)' is not in the schema") }
                    } else {
                        problems += validate(v, against: extra, at: "\(path).\(key)")
                    }
                }
            }
        }
        if case .array(let array) = value, let items = s["items"] {
            for (i, v) in array.enumerated() { problems += validate(v, against: items, at: "\(path)[\(i)]") }
        }
        return problems
    }

    static func double(_ any: Any?) -> Double? {
        if let i = any as? Int { return Double(i) }
        if let d = any as? Double { return d }
        return nil
    }

    static func isType(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("null", .null), ("boolean", .bool),
             ("number", .number):
            return true
        case ("integer", .number(let n)):
            return n == n.rounded()
        default:
            return false
        }
    }
}

enum SpecError: Error {
    case invalid(String)
}
