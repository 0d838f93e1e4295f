/// How long a TransStream's segments span (`MergeWriteBuffer`), from `source.merge_write_ms`.
///
/// A write per packet costs one syscall per player per packet (~70 a second at 25 fps + AAC): cheap
/// for a few players, most of the server's CPU for hundreds. Merging packets into longer segments
/// cuts the syscalls but makes players wait up to a segment. `adaptive` (the default) asks for the
/// latency only when it buys something: the window grows with the stream's players so that the
/// stream writes about `writesPerSecond` segments a second to all of them together.
public enum MergeWritePolicy: Sendable, Equatable {
    /// Every TransStream uses this window (0 = a segment per packet), whatever its player count.
    case fixed(ms: Int)
    /// Window = players × 1000 / `writesPerSecond` ms, up to `maxMs`; 0 while that is under
    /// `minimumMs`.
    case adaptive(maxMs: Int, writesPerSecond: Int)

    /// Below this an adaptive window is 0: a window shorter than a frame interval (40 ms at 25 fps)
    /// still delays each frame until the next one arrives but saves at most the audio's writes.
    public static let minimumMs = 20

    /// The shipped policy: up to 350 ms (SRS's merged-write default), 1000 writes a second.
    public static let defaultMaxMs = 350
    public static let defaultWritesPerSecond = 1000
    public static let `default` = MergeWritePolicy.adaptive(maxMs: defaultMaxMs, writesPerSecond: defaultWritesPerSecond)

    /// The window for a TransStream with `players` players.
    public func windowMs(players: Int) -> Int {
        switch self {
        case .fixed(let ms):
            return ms
        case .adaptive(let maxMs, let writesPerSecond):
            let window = min(max(players, 0), 1 << 20) * 1000 / max(writesPerSecond, 1)
            return window < Self.minimumMs ? 0 : min(window, maxMs)
        }
    }

    /// As `merge_write_ms` says it: `"auto"` or the fixed window.
    public var configValue: JSONValue {
        switch self {
        case .fixed(let ms): return .number(Double(ms))
        case .adaptive: return .string("auto")
        }
    }
}
