import Logging
import NIOCore
import RelayCore
import RelayRTP

/// The RTSP conversation of one pull: requests one at a time (OPTIONS → DESCRIBE → SETUP per track → PLAY),
/// each answer matched by CSeq, a 401 answered once with credentials; then keep-alives and media.
final class RTSPPullHandler: ChannelInboundHandler {
    typealias InboundIn = RTSPFrame
    typealias OutboundOut = ByteBuffer

    enum Phase: Equatable { case options, describe, setup(Int), play, playing, ended }

    struct Request {
        var method: String
        var uri: String
        var headers: [(String, String)]
        var cseq: Int
        var authorized: Bool
    }

    let target: UpstreamURL
    let transport: RTSPPullTransport
    let timeouts: UpstreamTimeouts
    var events: (any UpstreamEvents)?
    let started: EventLoopPromise<Void>
    let logger: Logger

    var phase = Phase.options
    var context: ChannelHandlerContext?
    var authenticator: RTSPAuthenticator?
    private var nextCSeq = 1
    /// The request awaiting its answer (one at a time; keep-alive answers are let through by CSeq).
    private var pending: Request?
    var keepAliveCSeqs: [Int] = []
    var supportsGetParameter = false
    var baseURL: String
    /// The aggregate control URL (the SDP's session-level a=control): PLAY, TEARDOWN and keep-alives.
    var playURL: String
    var tracks: [RTPIngestTrack] = []
    var ingest: RTPTrackIngest?
    var session: RTSPSetupReply?
    /// Interleaved channel → (track index, RTCP?).
    var channels: [UInt8: (Int, Bool)] = [:]
    var udp: [RTSPPullUDPPair] = []
    var serverRTCPPorts: [Int: Int] = [:]
    var timers: [Scheduled<Void>] = []
    var repeated: [RepeatedTask] = []
    /// Receive checks (a quarter of the receive timeout apart) that saw no RTP: four end the pull.
    var silentChecks = 0
    let rtcpSSRC = UInt32.random(in: 1...UInt32.max)
    var endReason: String?
    /// `started` completed (a promise is completed once).
    var settled = false

    init(target: UpstreamURL, transport: RTSPPullTransport, timeouts: UpstreamTimeouts, events: any UpstreamEvents,
         started: EventLoopPromise<Void>, logger: Logger) {
        self.target = target
        self.transport = transport
        self.timeouts = timeouts
        self.events = events
        self.started = started
        self.logger = logger
        baseURL = target.redacted
        playURL = target.redacted
        if let user = target.user { authenticator = RTSPAuthenticator(user: user, password: target.password ?? "") }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let seconds = Double(timeouts.connect.nanoseconds) / 1e9
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timers.append(context.eventLoop.scheduleTask(in: timeouts.connect) {
            if bound.value.phase != .playing { bound.value.fail("no answer to PLAY within \(seconds) s") }
        })
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        end(endReason ?? "the connection closed")  // also when it never connected: timers and sockets go
    }

    func channelActive(context: ChannelHandlerContext) {
        send("OPTIONS", uri: baseURL)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(endReason ?? "the camera closed the connection")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("\(error)")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase != .ended, endReason == nil else { return }
        switch unwrapInboundIn(data) {
        case .interleaved(let channel, let payload):
            interleaved(channel: channel, payload: payload)
        case .request(let request):
            // Cameras rarely ask anything of a player; nothing here is implemented.
            var answer = "RTSP/1.0 501 Not Implemented\r\n"
            if let cseq = request.cseq?.trimmingSpaces, Int(cseq) != nil { answer += "CSeq: \(cseq)\r\n" }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer + "\r\n")), promise: nil)
        case .response(let response):
            answered(response)
        }
    }

    // MARK: requests

    func takeCSeq() -> Int {
        defer { nextCSeq &+= 1 }
        return nextCSeq
    }

    func send(_ method: String, uri: String, headers: [(String, String)] = []) {
        // Control URLs come from the camera (Content-Base, a=control): never let one split the request line.
        guard uri.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            return fail("the camera named a control URL with spaces or control characters")
        }
        let cseq = takeCSeq()
        pending = Request(method: method, uri: uri, headers: headers, cseq: cseq, authorized: authenticator?.scheme != nil)
        write(method, uri: uri, headers: headers, cseq: cseq)
    }

    func write(_ method: String, uri: String, headers: [(String, String)], cseq: Int) {
        guard let context else { return }
        var text = "\(method) \(uri) RTSP/1.0\r\nCSeq: \(cseq)\r\nUser-Agent: LiveRelay\r\n"
        if let authorization = authenticator?.authorization(method: method, uri: uri) {
            text += "Authorization: \(authorization)\r\n"
        }
        if let session { text += "Session: \(session.session)\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text + "\r\n")), promise: nil)
    }

    private func answered(_ response: RTSPReceivedResponse) {
        guard let cseq = response.cseq else {
            fail("answer \(response.status) without a CSeq")
            return
        }
        if let i = keepAliveCSeqs.firstIndex(of: cseq) {
            keepAliveCSeqs.remove(at: i)
            return
        }
        guard let request = pending, request.cseq == cseq else {
            fail("answer with CSeq \(cseq), expected \(pending.map { "\($0.cseq)" } ?? "none")")
            return
        }
        pending = nil
        if response.status == 401 {
            unauthorized(request, response)
            return
        }
        if Self.redirects.contains(response.status), phase == .options || phase == .describe {
            return redirected(request, response)
        }
        switch phase {
        case .options:
            let methods = response.headers["Public"] ?? ""
            supportsGetParameter = methods.uppercased().contains("GET_PARAMETER")
            // Some cameras refuse OPTIONS; DESCRIBE says what matters.
            phase = .describe
            send("DESCRIBE", uri: baseURL, headers: [("Accept", "application/sdp")])
        case .describe:
            guard response.status == 200 else { return refused(request, response) }
            described(response)
        case .setup(let index):
            guard response.status == 200 else { return refused(request, response) }
            setUp(index, response)
        case .play:
            guard response.status == 200 else { return refused(request, response) }
            playing()
        case .playing, .ended:
            break
        }
    }

    private func unauthorized(_ request: Request, _ response: RTSPReceivedResponse) {
        guard var auth = authenticator else {
            return fail("\(request.method) answered 401 Unauthorized: the camera needs credentials (user:password@ in the URL)", status: 401)
        }
        guard !request.authorized else {
            return fail("\(request.method) answered 401 Unauthorized: the credentials were refused", status: 401)
        }
        let challenges = RTSPAuthChallenge.parse(response.values("WWW-Authenticate"))
        guard auth.accept(challenges) else {
            let schemes = challenges.map(\.scheme).joined(separator: ", ")
            return fail("\(request.method) answered 401 with no challenge we can answer (\(schemes.isEmpty ? "none" : schemes))", status: 401)
        }
        authenticator = auth
        send(request.method, uri: request.uri, headers: request.headers)
    }

    /// RFC 2326 §11.3: the stream is elsewhere (a load balancer, a moved camera).
    static let redirects: Set<Int> = [301, 302, 303, 307, 308]

    private func redirected(_ request: Request, _ response: RTSPReceivedResponse) {
        guard let location = response.headers["Location"]?.trimmingSpaces, !location.isEmpty, location.utf8.count <= 2048 else {
            return fail("\(request.method) answered \(response.status) without a Location", status: response.status)
        }
        let shown = UpstreamURL(location)?.redacted ?? (location.hasPrefix("/") ? location : "an unusable Location")
        fail("\(request.method) redirected (\(response.status)) to \(printable(shown))", status: response.status, redirect: location)
    }

    private func refused(_ request: Request, _ response: RTSPReceivedResponse) {
        fail("\(request.method) answered \(response.status) \(RTSPResponse.reason(response.status))", status: response.status)
    }

    // MARK: ending

    func fail(_ reason: String, status: Int? = nil, redirect: String? = nil) {
        guard phase != .ended, endReason == nil else { return }
        endReason = reason
        settle(RTSPPullError(reason, status: status, redirect: redirect))
        context?.close(promise: nil)
        if context == nil { end(reason) }
    }

    /// The pull stops: TEARDOWN, then close.
    func stop() {
        guard let context, phase != .ended, endReason == nil else { return }
        endReason = "closed"
        if phase == .playing {
            write("TEARDOWN", uri: playURL, headers: [], cseq: takeCSeq())
        }
        settle(RTSPPullError("closed"))
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }

    /// Once, when the connection is gone: sockets and timers released, the pull told (if it started).
    func end(_ reason: String) {
        guard phase != .ended else { return }
        let wasPlaying = phase == .playing
        phase = .ended
        for timer in timers { timer.cancel() }
        for task in repeated { task.cancel() }
        timers = []
        repeated = []
        for pair in udp { pair.close() }
        udp = []
        if wasPlaying {
            logger.info("rtsp pull \(target.redacted) ended: \(reason)")
            let events = self.events
            self.events = nil
            events?.upstreamEnded(reason)
        } else {
            settle(RTSPPullError(reason))
        }
    }

    /// Completes `started` once: nil succeeds.
    func settle(_ error: RTSPPullError?) {
        guard !settled else { return }
        settled = true
        if let error { started.fail(error) } else { started.succeed() }
    }
}
