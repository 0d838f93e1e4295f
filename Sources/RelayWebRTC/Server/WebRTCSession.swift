import Logging
import NIOCore
import RelayCore

/// What a session carries once its transport is up: a viewer (WHEP) or a publisher (WHIP).
/// Every call arrives on the port's event loop.
protocol WebRTCMedia: AnyObject {
    /// DTLS completed and SRTP is keyed: media may flow.
    func transportReady(_ session: WebRTCSession)
    /// A decrypted RTP packet from the peer.
    func receivedRTP(_ packet: ByteBuffer, session: WebRTCSession)
    /// A decrypted compound RTCP packet from the peer.
    func receivedRTCP(_ compound: ByteBuffer, session: WebRTCSession)
    /// The session ended (DELETE, a timeout, DTLS closed, the stream ended): release what it holds.
    func sessionEnded(reason: String, dropped: Bool)
}

/// One peer connection on the shared UDP port: its ICE credentials, the addresses that passed a
/// check, the DTLS association and the SRTP contexts it keyed. Confined to the port's loop.
final class WebRTCSession {
    enum Role: String, Sendable {
        case player = "whep"
        case publisher = "whip"
    }

    /// The token in the session's URL (`…/whep/ID`).
    let id: String
    let streamID: String
    let role: Role
    let info: SessionInfo
    let local: ICECredentials
    let remoteUfrag: String
    /// The socket the peer's checks arrive on (the port has one per local address): replies and
    /// media leave from the address the browser sends to.
    private(set) var channel: any Channel
    let logger: Logger
    var media: (any WebRTCMedia)?

    private let dtls: DTLSEndpoint
    private(set) var srtp: SRTPSession?
    /// Where packets go: the address the browser nominated (USE-CANDIDATE), else the last one
    /// that passed a connectivity check.
    private(set) var peer: SocketAddress?
    private var nominated = false
    /// Addresses that passed a check (the port routes their datagrams here), at most `maxAddresses`.
    private(set) var addresses: [SocketAddress] = []
    static let maxAddresses = 8
    let createdAt = NIODeadline.now()
    private(set) var lastConsent: NIODeadline?
    private(set) var isEnded = false
    private var retransmitTimer: Scheduled<Void>?
    private(set) var bytesSent: UInt64 = 0
    private(set) var bytesReceived: UInt64 = 0
    private(set) var droppedPackets: UInt64 = 0
    /// Tells the port to forget the session (table entries) once it ends.
    var onEnd: ((WebRTCSession) -> Void)?

    init(id: String, streamID: String, role: Role, info: SessionInfo, local: ICECredentials, remoteUfrag: String,
         dtls: DTLSEndpoint, channel: any Channel, logger: Logger) {
        self.id = id
        self.streamID = streamID
        self.role = role
        self.info = info
        self.local = local
        self.remoteUfrag = remoteUfrag
        self.dtls = dtls
        self.channel = channel
        var logger = logger
        logger[metadataKey: "stream"] = "\(streamID)"
        logger[metadataKey: "session"] = "\(id)"
        self.logger = logger
    }

    var isConnected: Bool { srtp != nil }

    // MARK: ICE

    /// A binding request with the right credentials arrived from `address`.
    /// Returns whether the address is new to this session (the port then routes it here).
    func checked(from address: SocketAddress, on channel: any Channel, nominate: Bool) -> Bool {
        lastConsent = .now()
        if nominate || !nominated {
            if nominate, !nominated || peer != address {
                logger.debug("WebRTC \(role.rawValue) peer nominated \(address.displayString)")
            }
            peer = address
            self.channel = channel
            nominated = nominated || nominate
        }
        guard !addresses.contains(address) else { return false }
        if addresses.count >= Self.maxAddresses { addresses.removeFirst() }
        addresses.append(address)
        return true
    }

    // MARK: DTLS

    /// DTLS answers go back the way the datagram came (before nomination too).
    func receiveDTLS(_ datagram: ByteBuffer, from address: SocketAddress, on channel: any Channel) {
        guard !isEnded else { return }
        bytesReceived &+= UInt64(datagram.readableBytes)
        handle(dtls.receive(datagram), to: (address, channel))
    }

    private func handle(_ output: DTLSOutput, to route: (address: SocketAddress, channel: any Channel)?) {
        if let (target, via) = route ?? peer.map({ ($0, channel) }) {
            for datagram in output.datagrams {
                bytesSent &+= UInt64(datagram.readableBytes)
                via.write(AddressedEnvelope(remoteAddress: target, data: datagram), promise: nil)
            }
            if !output.datagrams.isEmpty { via.flush() }
        }
        scheduleRetransmit()
        if let reason = output.closed {
            end(isConnected ? "DTLS closed: \(reason)" : "DTLS handshake failed: \(reason)", dropped: isConnected)
            return
        }
        if let keys = output.keys, srtp == nil {
            do {
                srtp = try SRTPSession(keys: keys)
            } catch {
                end("SRTP setup failed: \(error)")
                return
            }
            let ms = Double((NIODeadline.now() - createdAt).nanoseconds) / 1e6
            logger.info("WebRTC \(role.rawValue) session connected in \(Int(ms)) ms from \(peer?.displayString ?? "?")")
            media?.transportReady(self)
        }
    }

    private func scheduleRetransmit() {
        retransmitTimer?.cancel()
        retransmitTimer = nil
        guard !isEnded, !dtls.isConnected, let wait = dtls.retransmitIn else { return }
        retransmitTimer = channel.eventLoop.assumeIsolated().scheduleTask(in: wait) { [self] in
            retransmitTimer = nil
            guard !isEnded else { return }
            handle(dtls.handleTimeout(), to: nil)
        }
    }

    // MARK: SRTP

    /// A datagram whose first byte says RTP or RTCP (RFC 7983); RTCP by its packet type (RFC 5761).
    func receiveSRTP(_ datagram: ByteBuffer) {
        guard !isEnded, let srtp else { return }
        bytesReceived &+= UInt64(datagram.readableBytes)
        var packet = datagram
        let type = packet.getInteger(at: packet.readerIndex + 1, as: UInt8.self) ?? 0
        if (192...223).contains(type) {
            guard srtp.unprotectRTCP(&packet) else { return dropped() }
            media?.receivedRTCP(packet, session: self)
        } else {
            guard srtp.unprotectRTP(&packet) else { return dropped() }
            media?.receivedRTP(packet, session: self)
        }
    }

    private func dropped() {
        droppedPackets &+= 1
        if droppedPackets == 1 || droppedPackets % 1000 == 0 {
            logger.debug("WebRTC \(role.rawValue): \(droppedPackets) SRTP packet(s) failed authentication or replay checks")
        }
    }

    /// Protects and queues an RTP packet for the peer (call `flush` after a batch); false when
    /// it could not be sent (no peer or keys yet, or protection failed).
    @discardableResult
    func sendRTP(_ packet: inout ByteBuffer) -> Bool {
        guard let srtp, let peer, !isEnded, srtp.protectRTP(&packet) else { return false }
        write(packet, to: peer)
        return true
    }

    @discardableResult
    func sendRTCP(_ packet: inout ByteBuffer) -> Bool {
        guard let srtp, let peer, !isEnded, srtp.protectRTCP(&packet) else { return false }
        write(packet, to: peer)
        return true
    }

    func flush() { channel.flush() }

    private func write(_ datagram: ByteBuffer, to address: SocketAddress) {
        bytesSent &+= UInt64(datagram.readableBytes)
        channel.write(AddressedEnvelope(remoteAddress: address, data: datagram), promise: nil)
    }

    // MARK: end

    /// Ends the session once: close_notify to the peer, the media side released, the port's
    /// table cleaned. `dropped`: the peer went away (a publisher's players may wait for it).
    func end(_ reason: String, dropped: Bool = false, warning: Bool = false) {
        guard !isEnded else { return }
        if let peer, dtls.isConnected {
            for datagram in dtls.close().datagrams { write(datagram, to: peer) }
            channel.flush()
        }
        isEnded = true
        retransmitTimer?.cancel()
        retransmitTimer = nil
        if warning {
            logger.warning("WebRTC \(role.rawValue) session from \(info.remoteAddress) ended: \(reason)")
        } else {
            logger.info("WebRTC \(role.rawValue) session from \(info.remoteAddress) ended: \(reason)")
        }
        let media = self.media
        self.media = nil
        media?.sessionEnded(reason: reason, dropped: dropped)
        srtp = nil
        onEnd?(self)
        onEnd = nil
    }

    /// Called by the port's sweep: ends a session that did not connect in time, or whose
    /// browser stopped sending consent checks.
    func expireIfDue(now: NIODeadline, connectTimeout: TimeAmount, consentTimeout: TimeAmount) {
        guard !isEnded else { return }
        if !isConnected {
            if now - createdAt > connectTimeout {
                end("not connected within \(connectTimeout.nanoseconds / 1_000_000) ms (ICE or DTLS did not complete)", warning: true)
            }
        } else if let lastConsent, now - lastConsent > consentTimeout {
            end("no consent check for \(consentTimeout.nanoseconds / 1_000_000) ms", dropped: true, warning: true)
        }
    }
}
