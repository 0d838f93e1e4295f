import NIOCore
import RelayCore
import RelayRTP

/// SDP → tracks → SETUP each → PLAY; then RTP into `RTPTrackIngest`, RTCP receiver reports, keep-alives
/// and the receive timeout.
extension RTSPPullHandler {
    /// Receiver reports every 5 s (RFC 3550's interval for a session this small).
    static let reportInterval = TimeAmount.seconds(5)

    func described(_ response: RTSPReceivedResponse) {
        let text = String(buffer: response.body)
        let sdp: SessionDescription
        do {
            sdp = try SessionDescription(parsing: text)
        } catch {
            return fail("DESCRIBE answered a bad SDP: \(error)")
        }
        // Control URLs are relative to Content-Base, else Content-Location, else the request URL (RFC 2326 §C.1.1).
        for name in ["Content-Base", "Content-Location"] {
            if let base = response.headers[name]?.trimmingSpaces, base.lowercased().hasPrefix("rtsp://") {
                baseURL = base
                break
            }
        }
        let found = RTPIngestTracks.from(sdp)
        guard !found.tracks.isEmpty else {
            return fail("no ingestable track: \(found.unsupported.joined(separator: "; "))")
        }
        if !found.unsupported.isEmpty {
            logger.info("rtsp pull \(target.redacted): skipping \(found.unsupported.joined(separator: "; "))")
        }
        tracks = found.tracks
        let sessionControl = sdp.attributes.first { $0.name == "control" }?.value
        playURL = Self.resolve(control: sessionControl, base: baseURL)
        ingest = RTPTrackIngest(tracks: tracks, reorder: transport == .udp, logger: logger)
        setUpTrack(0)
    }

    /// The session-level a=control (RFC 2326 §C.1.1): absolute, relative to `base`, or `*`/none for `base`
    /// (the rules `RTPIngestTrack.controlURL` applies to a track's).
    static func resolve(control: String?, base: String) -> String {
        guard let control, !control.isEmpty, control != "*" else { return base }
        if control.range(of: "://") != nil { return control }
        return base.hasSuffix("/") || control.hasPrefix("/") ? base + control : base + "/" + control
    }

    private func setUpTrack(_ index: Int) {
        phase = .setup(index)
        let uri = tracks[index].controlURL(base: baseURL)
        switch transport {
        case .tcp:
            let rtp = UInt8(truncatingIfNeeded: index &* 2)
            send("SETUP", uri: uri, headers: [("Transport", "RTP/AVP/TCP;unicast;interleaved=\(rtp)-\(rtp &+ 1)")])
        case .udp:
            guard let context, let camera = context.channel.remoteAddress, let ip = camera.ipAddress else {
                return fail("no camera address for UDP")
            }
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let host = camera.protocol == .inet6 ? "::" : "0.0.0.0"
            RTSPPullUDPPair.bind(host: host, camera: ip, on: context.eventLoop) { packet, rtcp in
                bound.value.received(packet, track: index, rtcp: rtcp)
            }.whenComplete { result in
                let handler = bound.value
                switch result {
                case .failure(let error):
                    handler.fail("cannot bind UDP ports for track \(index): \(error)")
                case .success(let pair):
                    guard handler.phase == .setup(index), handler.endReason == nil else { return pair.close() }
                    handler.udp.append(pair)
                    let p = pair.rtpPort
                    handler.send("SETUP", uri: uri, headers: [("Transport", "RTP/AVP;unicast;client_port=\(p)-\(p &+ 1)")])
                }
            }
        }
    }

    func setUp(_ index: Int, _ response: RTSPReceivedResponse) {
        guard let reply = RTSPSetupReply(session: response.headers["Session"], transport: response.headers["Transport"]) else {
            return fail("SETUP answered without a Session")
        }
        if session == nil { session = reply }
        switch transport {
        case .tcp:
            let ours = UInt8(truncatingIfNeeded: index &* 2)
            let (rtp, rtcp) = reply.interleaved ?? (ours, ours &+ 1)
            channels[rtp] = (index, false)
            channels[rtcp] = (index, true)
        case .udp:
            if let ports = reply.serverPorts { serverRTCPPorts[index] = ports.rtcp }
        }
        if index + 1 < tracks.count {
            setUpTrack(index + 1)
        } else {
            phase = .play
            send("PLAY", uri: playURL)
        }
    }

    func playing() {
        guard let context, let ingest else { return }
        phase = .playing
        logger.info("rtsp pull \(target.redacted) playing over \(transport.rawValue): \(tracks.map { "\($0.codec)" }.joined(separator: ", "))")
        settle(nil)
        ingest.start { events?.upstream($0) }
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let check = TimeAmount.nanoseconds(max(timeouts.receive.nanoseconds / 4, 25_000_000))
        repeated.append(loop.scheduleRepeatedTask(initialDelay: check, delay: check) { _ in bound.value.checkReceive() })
        repeated.append(loop.scheduleRepeatedTask(initialDelay: Self.reportInterval, delay: Self.reportInterval) { _ in
            bound.value.sendReports()
        })
        let keepAlive = TimeAmount.seconds(Int64(max(1, (session?.timeout ?? 60) / 2)))
        repeated.append(loop.scheduleRepeatedTask(initialDelay: keepAlive, delay: keepAlive) { _ in bound.value.keepAlive() })
        if transport == .udp {
            repeated.append(loop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { _ in
                bound.value.tickReorder()
            })
        }
    }

    func interleaved(channel: UInt8, payload: ByteBuffer) {
        guard let (index, rtcp) = channels[channel] else { return }
        received(payload, track: index, rtcp: rtcp)
    }

    /// One RTP or RTCP packet of track `index` (interleaved or a datagram).
    func received(_ packet: ByteBuffer, track index: Int, rtcp: Bool) {
        guard phase == .playing, endReason == nil, let ingest, tracks.indices.contains(index) else { return }
        let now = RTPTrackIngest.nowNanos()
        if rtcp {
            ingest.receive(rtcp: packet, streamIndex: tracks[index].streamIndex, now: now)
        } else {
            silentChecks = 0
            ingest.receive(rtp: packet, streamIndex: tracks[index].streamIndex, now: now) { events?.upstream($0) }
        }
    }

    private func tickReorder() {
        guard phase == .playing, let ingest else { return }
        ingest.tick(now: RTPTrackIngest.nowNanos()) { events?.upstream($0) }
    }

    private func checkReceive() {
        guard phase == .playing else { return }
        silentChecks &+= 1
        guard silentChecks >= 4 else { return }
        fail("no RTP for \(Double(timeouts.receive.nanoseconds) / 1e9) s")
    }

    /// GET_PARAMETER when the camera lists it (the usual keep-alive), else OPTIONS; answers are not awaited.
    private func keepAlive() {
        guard phase == .playing, endReason == nil else { return }
        let cseq = takeCSeq()
        keepAliveCSeqs.append(cseq)
        if keepAliveCSeqs.count > 8 { keepAliveCSeqs.removeFirst() }
        write(supportsGetParameter ? "GET_PARAMETER" : "OPTIONS", uri: supportsGetParameter ? playURL : baseURL,
              headers: [], cseq: cseq)
    }

    /// A receiver report per track, on its RTCP channel or port.
    private func sendReports() {
        guard phase == .playing, let ingest, let context else { return }
        let blocks = ingest.receiverReportBlocks()
        for (index, track) in tracks.enumerated() {
            guard let ssrc = ingest.ssrc(of: track.streamIndex) else { continue }
            var buffer = context.channel.allocator.buffer(capacity: 64)
            switch transport {
            case .tcp:
                guard let channel = channels.first(where: { $0.value == (index, true) })?.key else { continue }
                Interleaved.write(channel: channel, into: &buffer) {
                    RTCP.writeReceiverReport(ssrc: rtcpSSRC, blocks: blocks.filter { $0.ssrc == ssrc }, into: &$0)
                }
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            case .udp:
                guard udp.indices.contains(index), let port = serverRTCPPorts[index],
                      let ip = context.channel.remoteAddress?.ipAddress,
                      let address = try? SocketAddress(ipAddress: ip, port: port) else { continue }
                RTCP.writeReceiverReport(ssrc: rtcpSSRC, blocks: blocks.filter { $0.ssrc == ssrc }, into: &buffer)
                udp[index].rtcp.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
            }
        }
    }
}
