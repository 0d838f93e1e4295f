#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Cuts a JT/T 1078 TCP byte stream into packages.
///
/// - Layout: pinned (a port configured for one version) or detected from the first packages: both
///   layouts are tried at the first `30 31 63 64`, and the one whose packages chain — each one's
///   length lands exactly on the next magic — wins (`version` tells which, once known).
/// - Resynchronisation: bytes before a magic, a header that is not valid (SIM not BCD, data type or
///   mark out of range, body longer than `maxBodyBytes`), or a package whose length runs past the
///   next valid header inside its body ("a length field pointing past the end") are dropped, and
///   decoding resumes at the next magic. The count of dropped bytes travels on the next package
///   (`discardedBefore`), so the outcome never depends on how TCP split the stream.
/// - Confirmation: the connection's first package is only taken once the bytes after it start
///   with a magic too (detection does this for both layouts), so a terminal speaking the other
///   layout on a pinned port, or a stray `30 31 63 64` in leading garbage, yields nothing. From then
///   on packages are passed on as soon as they are complete; after garbage the strict header check
///   and the embedded-package check are what keep the decoder in step.
/// - Bounds: at most three packages are held while detecting, one package otherwise; garbage
///   without a magic is dropped as it arrives (the last three bytes are kept: they may start one),
///   and more than `maxGarbageBytes` without a valid package is an error (the connection is not
///   speaking JT/T 1078, or not this layout).
public struct JT1078FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = JT1078Packet

    public private(set) var version: JT1078Version?
    /// True when the layout was given, not detected.
    public let isPinned: Bool
    public let maxBodyBytes: Int
    public let maxGarbageBytes: Int
    /// The stream proved to be in this layout (a package was followed by a valid one).
    private var confirmed = false
    /// Bytes dropped since the last package was produced.
    private var discarded = 0
    /// Every byte dropped so far.
    public private(set) var totalDiscarded = 0

    /// Packages a layout must chain (or beat the other layout by) before detection settles.
    static let detectionDepth = 3

    public init(version: JT1078Version? = nil, maxBodyBytes: Int = JT1078Header.maxBodyBytes,
                maxGarbageBytes: Int = 256 << 10) {
        self.version = version
        self.isPinned = version != nil
        self.maxBodyBytes = maxBodyBytes
        self.maxGarbageBytes = maxGarbageBytes
    }

    /// The most bytes the decoder ever needs buffered (for `ByteToMessageHandler`'s bound).
    public var maximumBufferSize: Int {
        (Self.detectionDepth + 1) * (JT1078Header.maxLength + maxBodyBytes) + 64 * 1024
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> JT1078Packet? {
        while true {
            if discarded > maxGarbageBytes { throw JT1078Error.noValidPackage(bytes: discarded, version: version) }
            guard syncToMagic(&buffer) else {
                if discarded > maxGarbageBytes { throw JT1078Error.noValidPackage(bytes: discarded, version: version) }
                return nil
            }
            let start = buffer.readerIndex
            let layout: JT1078Version
            if let version {
                layout = version
            } else {
                switch detect(buffer) {
                case .needMore:
                    return nil
                case .neither:
                    skip(&buffer, 1)
                    continue
                case .version(let v):
                    version = v
                    layout = v
                    confirmed = true  // the chain confirmed this package
                }
            }
            switch JT1078Header.parse(buffer, at: start, version: layout, maxBody: maxBodyBytes) {
            case .needMore:
                return nil
            case .invalid:
                skip(&buffer, 1)
                continue
            case .valid(let headerLength, let total):
                if !confirmed {
                    guard buffer.readableBytes >= total + 4 else { return nil }
                    guard buffer.getInteger(at: start + total, as: UInt32.self) == JT1078Header.magic else {
                        skip(&buffer, 1)
                        continue
                    }
                }
                guard buffer.readableBytes >= total else { return nil }
                switch embeddedPackage(buffer, from: start + 4, to: start + total, version: layout) {
                case .needMore:
                    return nil
                case .at(let next):
                    skip(&buffer, next - start)
                    continue
                case .none:
                    break
                }
                let packet = JT1078Header.read(&buffer, version: layout, headerLength: headerLength, total: total,
                                               discardedBefore: discarded)
                discarded = 0
                confirmed = true
                return packet
            }
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> JT1078Packet? {
        if let packet = try decode(buffer: &buffer) { return packet }
        // The last package has no successor to confirm it: take it when it fills the rest exactly.
        if !confirmed, let version, buffer.readableBytes >= 4,
           buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) == JT1078Header.magic,
           case .valid(let headerLength, let total) = JT1078Header.parse(buffer, at: buffer.readerIndex, version: version,
                                                                         maxBody: maxBodyBytes),
           total == buffer.readableBytes {
            let packet = JT1078Header.read(&buffer, version: version, headerLength: headerLength, total: total,
                                           discardedBefore: discarded)
            discarded = 0
            return packet
        }
        // A truncated package or garbage at the end of the connection: nothing more will come.
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return nil
    }

    // MARK: resynchronisation

    private mutating func skip(_ buffer: inout ByteBuffer, _ count: Int) {
        guard count > 0 else { return }
        buffer.moveReaderIndex(forwardBy: count)
        discarded += count
        totalDiscarded += count
    }

    /// Moves the reader index to the next magic; false (keeping at most 3 bytes) when there is none.
    private mutating func syncToMagic(_ buffer: inout ByteBuffer) -> Bool {
        guard buffer.readableBytes >= 4 else { return false }
        if buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) == JT1078Header.magic { return true }
        let found = buffer.withUnsafeReadableBytes { Self.findMagic(in: $0, from: 1, through: $0.count - 4) }
        if let found {
            skip(&buffer, found)
            return true
        }
        skip(&buffer, buffer.readableBytes - 3)
        return false
    }

    /// Offset of the first magic (`30 31 63 64`) starting in `from...last`, or nil. Every body
    /// byte is scanned (the embedded-package check), so memchr finds each 0x30 (vectorized) and
    /// only those are compared further.
    static func findMagic(in bytes: UnsafeRawBufferPointer, from: Int, through last: Int) -> Int? {
        guard let base = bytes.baseAddress, from >= 0, from <= last, last + 3 < bytes.count else { return nil }
        var at = from
        while at <= last {
            guard let hit = memchr(base + at, 0x30, last - at + 1) else { return nil }
            at = base.distance(to: UnsafeRawPointer(hit))
            if bytes[at + 1] == 0x31 && bytes[at + 2] == 0x63 && bytes[at + 3] == 0x64 { return at }
            at += 1
        }
        return nil
    }

    enum Embedded { case none, needMore, at(Int) }

    /// A valid package header whose magic lies inside `[from, to)` (the rest of the package being
    /// read) means that package is no package: its length field runs into the next one, or its
    /// "header" was garbage that happened to look like one and overlaps a real header. Only magics
    /// wholly inside the range count, so the answer never depends on bytes not yet arrived.
    private func embeddedPackage(_ buffer: ByteBuffer, from: Int, to: Int, version: JT1078Version) -> Embedded {
        var index = from
        while index + 4 <= to {
            let base = buffer.readerIndex
            let candidate = buffer.withUnsafeReadableBytes {
                Self.findMagic(in: $0, from: index - base, through: to - base - 4).map { base + $0 }
            }
            guard let candidate else { return .none }
            switch JT1078Header.parse(buffer, at: candidate, version: version, maxBody: maxBodyBytes) {
            case .valid: return .at(candidate)
            case .needMore: return .needMore
            case .invalid: index = candidate + 1
            }
        }
        return .none
    }

    // MARK: layout detection

    enum Detection: Equatable { case needMore, neither, version(JT1078Version) }

    /// How far a layout chains from the reader index: packages whose end is followed by a magic.
    struct Chain: Equatable {
        var confirmed: Int
        /// Stopped because more bytes are needed to judge the next package (it may still chain).
        var open: Bool
    }

    func chain(_ buffer: ByteBuffer, version: JT1078Version) -> Chain {
        var at = buffer.readerIndex
        var confirmed = 0
        while confirmed < Self.detectionDepth {
            switch JT1078Header.parse(buffer, at: at, version: version, maxBody: maxBodyBytes) {
            case .needMore:
                return Chain(confirmed: confirmed, open: true)
            case .invalid:
                return Chain(confirmed: confirmed, open: false)
            case .valid(_, let total):
                guard buffer.writerIndex >= at + total + 4 else { return Chain(confirmed: confirmed, open: true) }
                guard buffer.getInteger(at: at + total, as: UInt32.self) == JT1078Header.magic else {
                    return Chain(confirmed: confirmed, open: false)
                }
                confirmed += 1
                at += total
            }
        }
        return Chain(confirmed: confirmed, open: false)
    }

    /// Decides only once the answer cannot change with more bytes, so detection does not depend on
    /// how the stream was split: a layout wins when its chain is longer than anything the other one
    /// can still reach.
    func detect(_ buffer: ByteBuffer) -> Detection {
        let a = chain(buffer, version: .v2016)
        let b = chain(buffer, version: .v2019)
        if !a.open && !b.open {
            if a.confirmed == 0 && b.confirmed == 0 { return .neither }
            // Equal chains of full depth would be a remarkable coincidence; 2016 is the common one.
            return .version(b.confirmed > a.confirmed ? .v2019 : .v2016)
        }
        if !a.open && b.confirmed > a.confirmed { return .version(.v2019) }
        if !b.open && a.confirmed > b.confirmed { return .version(.v2016) }
        return .needMore
    }
}

public enum JT1078Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// Too many bytes without a valid package: not JT/T 1078, or the other layout on a pinned port.
    case noValidPackage(bytes: Int, version: JT1078Version?)

    public var description: String {
        switch self {
        case .noValidPackage(let bytes, let version?):
            return "no valid \(version) package in \(bytes) bytes (not JT/T 1078, or a terminal using the other layout on a pinned port)"
        case .noValidPackage(let bytes, nil):
            return "no valid JT/T 1078 package (2016 or 2019 layout) in \(bytes) bytes"
        }
    }
}
