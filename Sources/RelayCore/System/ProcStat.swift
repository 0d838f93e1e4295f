import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds, memory and threads of a process, read from /proc (Linux): the admin API's
/// process section (this process) and relay-bench's samples of the relay under test.
public struct ProcStat: Sendable {
    public var cpuSeconds: Double = 0
    public var rssBytes: Int = 0
    public var peakRSSBytes: Int = 0
    public var threads: Int = 0

    public init() {}

    /// Process `pid`; nil when its /proc entry cannot be read or parsed (another OS, a process gone).
    public init?(pid: Int32) {
        guard let stat = Self.read("/proc/\(pid)/stat"), let status = Self.read("/proc/\(pid)/status"),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the parenthesised command name: state is field 3; utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if ticks > 0 { cpuSeconds = (utime + stime) / ticks }
        rssBytes = Self.value(status, "VmRSS:") &* 1024
        peakRSSBytes = Self.value(status, "VmHWM:") &* 1024
        threads = Self.value(status, "Threads:")
    }

    /// This process; zeros where /proc is not available.
    public static func current() -> ProcStat {
        ProcStat(pid: getpid()) ?? ProcStat()
    }

    /// Open file descriptors of process `pid` (entries of /proc/PID/fd).
    public static func openFileDescriptors(pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// The number after `key` in /proc/PID/status (kB for sizes); 0 if absent.
    private static func value(_ status: String, _ key: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(key) {
            return Int(line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }

    /// /proc files report a size of 0: read until EOF.
    private static func read(_ path: String) -> String? {
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
