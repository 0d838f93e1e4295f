import NIOCore
import RelayCore

/// One frame put together from its packages.
public struct JT1078Frame: Sendable, Equatable {
    public var payloadType: UInt8
    public var dataType: JT1078DataType
    /// The timestamp of the frame's first package (ms).
    public var timestamp: UInt64
    public var body: ByteBuffer
    public var packages: Int
    /// The frame ended without an end mark (atomic / last): the next frame began first.
    public var unterminated: Bool

    public init(payloadType: UInt8, dataType: JT1078DataType, timestamp: UInt64, body: ByteBuffer,
                packages: Int = 1, unterminated: Bool = false) {
        self.payloadType = payloadType
        self.dataType = dataType
        self.timestamp = timestamp
        self.body = body
        self.packages = packages
        self.unterminated = unterminated
    }
}

/// Puts the packages of one stream's video (or audio) back into frames.
///
/// The sub-package marks decide, but terminals get them wrong in the field, so they are checked
/// against what the packages carry:
/// - a package with the frame's payload type and timestamp whose body does not start with an
///   Annex-B start code continues the frame, whatever its mark (terminals that mark every package
///   atomic, or start every package "first");
/// - a frame ends at its end mark, or — when the mark never comes — when a package with another
///   timestamp or payload type, or a new start code with a "first"/"atomic" mark, begins the next;
/// - a "middle"/"last" package with another timestamp still continues the frame when it is no
///   start of a NAL unit (terminals that advance the timestamp per package).
///
/// Video frames are passed on at their end mark only once the marks have proved right (three
/// frames whose end mark was followed by a new frame); until then — and for good once a mark was
/// wrong (`marksUnreliable`) — a frame waits for the first package of the next one. Audio has no
/// start codes to check, so its frames end at their end mark or a timestamp / payload-type change.
///
/// Fragments that cannot belong anywhere (a continuation without its start) and frames over
/// `maxFrameBytes` are dropped with a `discontinuity` (video must resume at a key frame).
public struct JT1078Reassembler: Sendable {
    public enum Event: Sendable, Equatable {
        case frame(JT1078Frame)
        /// Data was dropped; the reason reads well in a log line.
        case discontinuity(String)
        /// An end mark proved wrong: from now on frames are cut at timestamp / payload-type changes.
        case marksUnreliable
    }

    public let isVideo: Bool
    public let maxFrameBytes: Int
    /// nil while unproven, true after three good end marks, false once one was wrong.
    public private(set) var marksTrusted: Bool?
    private var goodEnds = 0
    private var pending: Pending?
    /// The last frame passed on, to recognise a package that continues it (its end mark was wrong).
    private var lastEmitted: (payloadType: UInt8, timestamp: UInt64)?
    /// A frame being skipped (too large, or its start was lost): its further packages are dropped.
    private var skipping: (payloadType: UInt8, timestamp: UInt64)?

    private struct Pending {
        var payloadType: UInt8
        var dataType: JT1078DataType
        var timestamp: UInt64
        var body: ByteBuffer
        var packages: Int
        var endMarked: Bool
    }

    static let goodEndsToTrust = 3

    public init(video: Bool, maxFrameBytes: Int = 4 << 20) {
        self.isVideo = video
        self.maxFrameBytes = maxFrameBytes
    }

    /// Takes one package (of this reassembler's kind; transparent data never comes here).
    public mutating func push(_ packet: JT1078Packet, into out: inout [Event]) {
        let timestamp = packet.timestamp ?? 0
        let pt = packet.payloadType
        let mark = packet.subpackage
        let startsNAL = isVideo && Self.startsWithStartCode(packet.body)

        if let s = skipping {
            let sameFrame = pt == s.payloadType && (isVideo ? !startsNAL && (timestamp == s.timestamp || mark.continuesFrame)
                                                            : mark.continuesFrame && timestamp == s.timestamp)
            if sameFrame { return }
            skipping = nil
        }

        if var frame = pending {
            if continues(frame, packet, timestamp: timestamp, startsNAL: startsNAL) {
                if frame.endMarked || !mark.continuesFrame { marksWrong(into: &out) }
                pending = nil
                guard frame.body.readableBytes + packet.body.readableBytes <= maxFrameBytes else {
                    skip(pt, timestamp, "frame over max_frame_bytes (\(maxFrameBytes)) dropped", into: &out)
                    return
                }
                if frame.packages == 1 {
                    var owned = ByteBufferAllocator().buffer(capacity: min(maxFrameBytes, max(4096, frame.body.readableBytes * 8)))
                    owned.writeImmutableBuffer(frame.body)
                    frame.body = owned
                }
                frame.body.writeImmutableBuffer(packet.body)
                frame.packages += 1
                frame.endMarked = mark.endsFrame
                pending = frame
                if frame.endMarked && canPassOnAtEndMark { emitPending(unterminated: false, into: &out) }
                return
            }
            // The pending frame is complete: the next one begins.
            if frame.endMarked {
                goodEnds += 1
                if marksTrusted == nil && goodEnds >= Self.goodEndsToTrust { marksTrusted = true }
            }
            emitPending(unterminated: !frame.endMarked, into: &out)
        } else if isVideo, let last = lastEmitted, !startsNAL, pt == last.payloadType, timestamp == last.timestamp {
            // Continues a frame already passed on at its end mark: that mark was wrong.
            marksWrong(into: &out)
            skip(pt, timestamp, "a package continued a frame already passed on (its end mark was wrong)", into: &out)
            return
        }

        if isVideo && !startsNAL && mark.continuesFrame {
            skip(pt, timestamp, "a \(mark) video package without the start of its frame dropped", into: &out)
            return
        }
        guard packet.body.readableBytes <= maxFrameBytes else {
            skip(pt, timestamp, "frame over max_frame_bytes (\(maxFrameBytes)) dropped", into: &out)
            return
        }
        pending = Pending(payloadType: pt, dataType: packet.dataType, timestamp: timestamp, body: packet.body,
                          packages: 1, endMarked: mark.endsFrame)
        if mark.endsFrame && canPassOnAtEndMark { emitPending(unterminated: false, into: &out) }
    }

    /// The connection ended: a frame that got its end mark is passed on, a partial one dropped.
    public mutating func finish(into out: inout [Event]) {
        guard let frame = pending else { return }
        if frame.endMarked {
            emitPending(unterminated: false, into: &out)
        } else {
            pending = nil
        }
    }

    /// A frame is only held back for the next package while the marks are unproven or wrong.
    public var isHoldingFrame: Bool { pending != nil }

    // MARK: -

    private var canPassOnAtEndMark: Bool { !isVideo || marksTrusted == true }

    private func continues(_ frame: Pending, _ packet: JT1078Packet, timestamp: UInt64, startsNAL: Bool) -> Bool {
        guard packet.payloadType == frame.payloadType else { return false }
        if isVideo {
            if !startsNAL && timestamp == frame.timestamp { return true }
            return !frame.endMarked && packet.subpackage.continuesFrame && (timestamp == frame.timestamp || !startsNAL)
        }
        return !frame.endMarked && packet.subpackage.continuesFrame && timestamp == frame.timestamp
    }

    private mutating func emitPending(unterminated: Bool, into out: inout [Event]) {
        guard let frame = pending else { return }
        pending = nil
        lastEmitted = (frame.payloadType, frame.timestamp)
        out.append(.frame(JT1078Frame(payloadType: frame.payloadType, dataType: frame.dataType, timestamp: frame.timestamp,
                                      body: frame.body, packages: frame.packages, unterminated: unterminated)))
    }

    private mutating func marksWrong(into out: inout [Event]) {
        guard marksTrusted != false else { return }
        marksTrusted = false
        out.append(.marksUnreliable)
    }

    private mutating func skip(_ pt: UInt8, _ timestamp: UInt64, _ reason: String, into out: inout [Event]) {
        skipping = (pt, timestamp)
        out.append(.discontinuity(reason))
    }

    /// `00 00 01` or `00 00 00 01` at the start.
    static func startsWithStartCode(_ body: ByteBuffer) -> Bool {
        AnnexB.leadingStartCodeLength(body) > 0
    }
}
