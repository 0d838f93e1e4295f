import CFuzzer
import Logging
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOEmbedded
/// ManualLoop and ManualChannel: the pipeline targets run sessions on them.
@_exported import RelayTestSupport

/// Splits fuzz input into reads the way a socket might deliver them: the first byte seeds a
/// small PRNG that picks read sizes (1 … 64 bytes, sometimes up to 4 KiB), so the same input
/// always splits the same way and libFuzzer can mutate the split too.
public struct Splitter: Sequence, IteratorProtocol {
    private var bytes: ArraySlice<UInt8>
    private var state: UInt64

    public init(_ data: [UInt8]) {
        self.state = UInt64(data.first ?? 0) &* 0x9E37_79B9_7F4A_7C15 | 1
        self.bytes = data.dropFirst()[...]
    }

    public mutating func next() -> ByteBuffer? {
        guard !bytes.isEmpty else { return nil }
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        let r = Int(truncatingIfNeeded: state & 0xFFFF)
        let n = r % 8 == 0 ? 1 + r % 4096 : 1 + r % 64
        let take = bytes.prefix(n)
        bytes = bytes.dropFirst(take.count)
        return ByteBuffer(bytes: take)
    }

    /// The pieces of `data` appended to one buffer, which `parse` reads what it can of after each
    /// (as a server's cumulation); the first throw ends it (the server closes the connection).
    public static func cumulate(_ data: [UInt8], _ parse: (inout ByteBuffer) throws -> Void) {
        var buffer = ByteBuffer()
        for var read in Splitter(data) {
            buffer.writeBuffer(&read)
            do { try parse(&buffer) } catch { return }
        }
    }
}

/// Input of the fuzzer as a byte array.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// A logger that drops everything (the parsers log warnings for bad input).
public let quietLogger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

/// Writes `data` into an EmbeddedChannel's pipeline in Splitter reads, stops at the first error
/// (the server closes the connection then), drains outbound and inbound, closes the channel.
/// `check` sees every inbound message the pipeline produced.
public func feed<T>(_ channel: EmbeddedChannel, _ data: [UInt8], as: T.Type = T.self, check: (T) -> Void) {
    // Active as an accepted connection is: the loop below stops once the channel is not (its
    // handler closed it), so an EmbeddedChannel never connected would get only the first read.
    if !channel.isActive { try? channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).wait() }
    for read in Splitter(data) {
        do {
            try channel.writeInbound(read)
        } catch {
            break
        }
        while let out = try? channel.readInbound(as: T.self) { check(out) }
        while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
        guard channel.isActive else { break }
    }
    _ = try? channel.finish()
}

/// Crashes with a message: an invariant the parser promises does not hold.
public func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("invariant violated: \(message())", file: file, line: line) }
}

/// A libFuzzer target: `@main enum FuzzerMain: FuzzTarget { static func fuzz(_ input: [UInt8]) {…} }`.
/// SwiftPM gives every executable its own `main`, so instead of libFuzzer's `main` the target's
/// calls libFuzzer's driver, which parses the usual libFuzzer options.
public protocol FuzzTarget {
    /// One input; a broken `invariant` is a finding.
    static func fuzz(_ input: [UInt8])
}

extension FuzzTarget {
    public static func main() {
        target = fuzz
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput))
    }
}

/// Set once, before the driver runs, on the fuzzer's only thread.
nonisolated(unsafe) private var target: ([UInt8]) -> Void = { _ in }

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target(fuzzInput(data, size))
    return 0
}
