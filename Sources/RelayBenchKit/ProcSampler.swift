#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds and memory of a process, read from /proc (Linux).
public struct ProcSample: Sendable {
    public var cpuSeconds: Double
    public var rssBytes: Int
    public var peakRSSBytes: Int
}

public enum ProcSampler {
    public static func sample(pid: Int32) -> ProcSample? {
        guard let stat = read("/proc/\(pid)/stat"), let status = read("/proc/\(pid)/status") else { return nil }
        // Fields after the parenthesised command name: state is field 3; utime 14, stime 15.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ProcSample(cpuSeconds: (utime + stime) / ticks,
                          rssBytes: kib(status, "VmRSS:") * 1024,
                          peakRSSBytes: kib(status, "VmHWM:") * 1024)
    }

    private static func kib(_ status: String, _ key: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(key) {
            return Int(line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }

    static func read(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Percentile of sorted-able values (nearest rank).
public func percentile(_ values: [Double], _ p: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
