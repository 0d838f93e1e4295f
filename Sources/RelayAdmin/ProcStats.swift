#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds and memory of this process from /proc (Linux; zeros elsewhere). The same reader
/// as RelayBenchKit's ProcSampler, for `/proc/self`.
struct ProcStats: Sendable {
    var cpuSeconds: Double = 0
    var rssBytes: Int = 0
    var peakRSSBytes: Int = 0
    var threads: Int = 0

    static func current() -> ProcStats {
        var out = ProcStats()
        #if os(Linux)
        guard let stat = read("/proc/self/stat"), let status = read("/proc/self/status") else { return out }
        // Fields after the parenthesised command name: state is field 3; utime 14, stime 15.
        if let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) {
                let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
                if ticks > 0 { out.cpuSeconds = (utime + stime) / ticks }
            }
        }
        out.rssBytes = value(status, "VmRSS:") * 1024
        out.peakRSSBytes = value(status, "VmHWM:") * 1024
        out.threads = value(status, "Threads:")
        #endif
        return out
    }

    private static func value(_ status: String, _ key: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(key) {
            return Int(line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }

    private static func read(_ path: String) -> String? {
        #if os(Linux)
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
        #else
        return nil
        #endif
    }
}
