import Foundation

/// Where recordings go: `<dir>/<stream id made safe>/<UTC start>.flv`, never outside `dir`.
public enum RecordPath {
    /// The stream id as a relative directory: each `/`-separated part keeps `[A-Za-z0-9._~-]`,
    /// every other character becomes `_`, a leading `.` becomes `_` (no `.`, `..` or hidden
    /// names), empty parts are dropped, parts are cut to 100 bytes and depth to 8.
    public static func relativeDirectory(for stream: String) -> String {
        var parts: [String] = []
        for raw in stream.split(separator: "/", omittingEmptySubsequences: true) {
            var part = String(String.UnicodeScalarView(raw.unicodeScalars.map { isSafe($0) ? $0 : "_" }))
            if part.hasPrefix(".") { part = "_" + part.dropFirst() }
            if part.utf8.count > 100 { part = String(part.prefix(100)) }
            parts.append(part)
        }
        if parts.isEmpty { parts = ["_"] }
        return parts.prefix(8).joined(separator: "/")
    }

    /// `dir` made absolute (relative to the working directory) and normalized.
    public static func absoluteDirectory(_ dir: String, cwd: String = FileManager.default.currentDirectoryPath) -> String {
        normalize(dir.hasPrefix("/") ? dir : cwd + "/" + dir)
    }

    /// The file for a recording of `stream` named `name`; nil if it would leave `dir` (it cannot
    /// with a name from `fileName(start:sequence:)`, this checks anyway).
    public static func file(dir: String, stream: String, name: String) -> (path: String, relative: String)? {
        let root = absoluteDirectory(dir)
        let relative = relativeDirectory(for: stream) + "/" + name
        let path = normalize(root + "/" + relative)
        guard path.hasPrefix(root == "/" ? "/" : root + "/"), !name.contains("/"), name != "..", name != "." else { return nil }
        return (path, String(path.dropFirst(root == "/" ? 1 : root.count + 1)))
    }

    /// `20250102-030405-678.flv` (UTC), with `-N` when more than one file starts in the same millisecond.
    public static func fileName(start: Date, sequence: Int = 0) -> String {
        let t = UTCFields(start)
        return "\(t.year)\(t.month)\(t.day)-\(t.hour)\(t.minute)\(t.second)-\(t.millisecond)\(sequence > 0 ? "-\(sequence)" : "").flv"
    }

    /// ISO 8601 UTC with milliseconds, for hook bodies.
    public static func iso8601(_ date: Date) -> String {
        let t = UTCFields(date)
        return "\(t.year)-\(t.month)-\(t.day)T\(t.hour):\(t.minute):\(t.second).\(t.millisecond)Z"
    }

    /// A date's UTC calendar fields, zero-padded (year 4 digits, milliseconds 3, the others 2).
    private struct UTCFields {
        var year, month, day, hour, minute, second, millisecond: String

        init(_ date: Date) {
            let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
            var t = time_t(ms / 1000)
            var parts = tm()
            gmtime_r(&t, &parts)
            func pad(_ v: Int, _ n: Int) -> String {
                let s = String(v)
                return String(repeating: "0", count: max(0, n - s.count)) + s
            }
            year = pad(Int(parts.tm_year) + 1900, 4)
            month = pad(Int(parts.tm_mon) + 1, 2)
            day = pad(Int(parts.tm_mday), 2)
            hour = pad(Int(parts.tm_hour), 2)
            minute = pad(Int(parts.tm_min), 2)
            second = pad(Int(parts.tm_sec), 2)
            millisecond = pad(Int(ms % 1000), 3)
        }
    }

    /// Lexical normalization: collapses `//` and `.`, resolves `..` (never above `/`).
    static func normalize(_ path: String) -> String {
        var out: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !out.isEmpty { out.removeLast() }
                continue
            }
            out.append(part)
        }
        return "/" + out.joined(separator: "/")
    }

    private static func isSafe(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".", "~": return true
        default: return false
        }
    }
}
