import CWebRTCCrypto
import NIOCore

public struct SRTPError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// libsrtp's one-time global setup, run lazily (Swift globals initialise once, thread-safely).
private let srtpLibraryReady: Bool = srtp_init() == srtp_err_status_ok

/// libsrtp2 contexts of one association: outbound with keys.local (allow_repeat_tx on: NACK
/// retransmissions resend a sequence number), inbound with keys.remote (ssrc_any_inbound, replay
/// window). Confined to one event loop.
public final class SRTPSession {
    /// Most bytes protect appends (auth tag; SRTCP index + tag): callers keep this much writable room.
    public static let maxOverhead = Int(SRTP_MAX_TAG_LEN) + 4
    /// SSRCs the peer may open inbound streams for: libsrtp allocates one per SSRC that
    /// authenticates, so a peer rotating SSRCs must not grow it without end.
    static let maxInboundStreams = 32
    /// RTP/RTCP packets beyond a UDP datagram are not ours to protect.
    static let maxPacket = 65_535

    private let outbound: OpaquePointer
    private let inbound: OpaquePointer
    private var inboundSSRCs: [UInt32] = []

    public init(keys: SRTPKeys, replayWindow: Int = 1024) throws(SRTPError) {
        guard srtpLibraryReady else { throw SRTPError(description: "srtp_init failed") }
        guard keys.local.count == 30, keys.remote.count == 30 else {
            throw SRTPError(description: "SRTP keys must be 30 bytes (16 key + 14 salt)")
        }
        guard (64..<0x8000).contains(replayWindow) else {
            throw SRTPError(description: "SRTP replay window \(replayWindow) out of 64..<32768")
        }
        outbound = try Self.context(key: keys.local, ssrc: ssrc_any_outbound, replayWindow: replayWindow)
        do {
            inbound = try Self.context(key: keys.remote, ssrc: ssrc_any_inbound, replayWindow: replayWindow)
        } catch {
            srtp_dealloc(outbound)
            throw error
        }
        inboundSSRCs.reserveCapacity(Self.maxInboundStreams)
    }

    deinit {
        srtp_dealloc(outbound)
        srtp_dealloc(inbound)
    }

    private static func context(key: [UInt8], ssrc: srtp_ssrc_type_t, replayWindow: Int) throws(SRTPError) -> OpaquePointer {
        var key = key
        var session: srtp_t?
        let status = key.withUnsafeMutableBufferPointer { key in
            var policy = srtp_policy_t()
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
            policy.ssrc = srtp_ssrc_t(type: ssrc, value: 0)
            policy.key = key.baseAddress
            policy.window_size = UInt(replayWindow)
            policy.allow_repeat_tx = ssrc == ssrc_any_outbound ? 1 : 0
            return srtp_create(&session, &policy)
        }
        guard status == srtp_err_status_ok, let session else {
            throw SRTPError(description: "srtp_create failed (status \(status.rawValue))")
        }
        return session
    }

    /// Encrypts in place (the buffer's readable bytes grow by the tag); false: drop the packet.
    public func protectRTP(_ packet: inout ByteBuffer) -> Bool {
        protect(&packet, minimum: 12, srtp_protect)
    }

    public func protectRTCP(_ packet: inout ByteBuffer) -> Bool {
        protect(&packet, minimum: 8, srtp_protect_rtcp)
    }

    /// Decrypts in place (readable bytes shrink); false when authentication fails, a replay, or malformed: drop it.
    public func unprotectRTP(_ packet: inout ByteBuffer) -> Bool {
        unprotect(&packet, minimum: 12 + 10, ssrcOffset: 8, srtp_unprotect)
    }

    public func unprotectRTCP(_ packet: inout ByteBuffer) -> Bool {
        unprotect(&packet, minimum: 8 + 14, ssrcOffset: 4, srtp_unprotect_rtcp)
    }

    private typealias Transform = (srtp_t?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t

    private func protect(_ packet: inout ByteBuffer, minimum: Int, _ transform: Transform) -> Bool {
        let length = packet.readableBytes
        guard length >= minimum, length <= Self.maxPacket else { return false }
        // Room first: a copy-on-write below keeps the capacity, so the room survives it.
        packet.reserveCapacity(minimumWritableBytes: Self.maxOverhead)
        let start = packet.readerIndex
        let protected = packet.withVeryUnsafeMutableBytes { storage -> Int in
            guard let base = storage.baseAddress, storage.count - start >= length + Self.maxOverhead else { return -1 }
            var size = Int32(length)
            guard transform(outbound, base + start, &size) == srtp_err_status_ok else { return -1 }
            return Int(size)
        }
        guard protected >= length, protected <= length + Self.maxOverhead else { return false }
        packet.moveWriterIndex(to: start + protected)
        return true
    }

    private func unprotect(_ packet: inout ByteBuffer, minimum: Int, ssrcOffset: Int, _ transform: Transform) -> Bool {
        let length = packet.readableBytes
        guard length >= minimum, length <= Self.maxPacket,
              let ssrc = packet.getInteger(at: packet.readerIndex + ssrcOffset, as: UInt32.self)
        else { return false }
        let known = inboundSSRCs.contains(ssrc)
        guard known || inboundSSRCs.count < Self.maxInboundStreams else { return false }
        let plain = packet.withUnsafeMutableReadableBytes { bytes -> Int in
            var size = Int32(length)
            guard transform(inbound, bytes.baseAddress, &size) == srtp_err_status_ok else { return -1 }
            return Int(size)
        }
        guard plain >= 0, plain <= length else { return false }
        if !known { inboundSSRCs.append(ssrc) }
        packet.moveWriterIndex(to: packet.readerIndex + plain)
        return true
    }
}
