import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import RelayCore
import RelayFLV
import RelayRTMP

/// Why an HTTP-FLV pull could not start.
public struct HTTPFLVPullError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// An HTTP-FLV pull: GET http(s)://…flv, the response body read as an FLV stream as it arrives
/// (one read at a time: the client reads on only when the delegate's future completes).
public final class HTTPFLVPullClient: Upstream, Sendable {
    public let remoteAddress: String
    private let delegate: HTTPFLVPullDelegate

    private init(remoteAddress: String, delegate: HTTPFLVPullDelegate) {
        self.remoteAddress = remoteAddress
        self.delegate = delegate
    }

    /// Call on `loop`, an event loop of `client`'s group. The future succeeds at a 2xx response
    /// head within `timeouts.connect`, else fails saying why (status, refused, timeout); after
    /// success `events` hears the stream on `loop` and `upstreamEnded` once at the end.
    public static func connect(url: String, client: HTTPClient, on loop: any EventLoop, timeouts: UpstreamTimeouts,
                               logger: Logger, events: any UpstreamEvents) -> EventLoopFuture<HTTPFLVPullClient> {
        loop.preconditionInEventLoop()
        guard let target = UpstreamURL(url), target.scheme == .http || target.scheme == .https else {
            return loop.makeFailedFuture(HTTPFLVPullError(description: "not an http(s):// URL"))
        }
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url, method: .GET, headers: ["User-Agent": "LiveRelay pull", "Accept": "*/*"])
        } catch {
            return loop.makeFailedFuture(HTTPFLVPullError(description: "bad URL: \(error)"))
        }
        let started = loop.makePromise(of: Void.self)
        let delegate = HTTPFLVPullDelegate(loop: loop, timeouts: timeouts, events: events, started: started)
        let task = client.execute(request: request, delegate: delegate, eventLoop: .delegateAndChannel(on: loop),
                                  logger: logger)
        delegate.begin(task)
        let remote = "\(target.scheme.rawValue) \(target.host):\(target.port)"
        return started.futureResult.map { HTTPFLVPullClient(remoteAddress: remote, delegate: delegate) }
    }

    public func close() {
        delegate.end("closed")
    }
}

/// The response's callbacks, all on the pull's loop (`.delegateAndChannel(on:)`); the session's
/// state lives in a loop-bound box.
final class HTTPFLVPullDelegate: HTTPClientResponseDelegate, Sendable {
    typealias Response = Void

    /// The session's state, touched on its loop only.
    private final class State {
        var events: (any UpstreamEvents)?
        var started: EventLoopPromise<Void>?
        var task: HTTPClient.Task<Void>?
        var tags = FLVTagReader(maxTagSize: 8 << 20)
        var cumulation = ReadCumulation()
        var reader = RTMPMediaReader()
        var pending: [MediaEvent] = []
        var timer: Scheduled<Void>?
        var sawMedia = false
        var ended = false

        init(events: any UpstreamEvents, started: EventLoopPromise<Void>) {
            self.events = events
            self.started = started
        }
    }

    private let loop: any EventLoop
    private let timeouts: UpstreamTimeouts
    private let state: NIOLoopBound<State>

    init(loop: any EventLoop, timeouts: UpstreamTimeouts, events: any UpstreamEvents, started: EventLoopPromise<Void>) {
        self.loop = loop
        self.timeouts = timeouts
        state = NIOLoopBound(State(events: events, started: started), eventLoop: loop)
    }

    /// On the loop, right after the request went out: the connect deadline starts.
    func begin(_ task: HTTPClient.Task<Void>) {
        state.value.task = task
        let seconds = Double(timeouts.connect.nanoseconds) / 1e9
        state.value.timer = loop.scheduleTask(in: timeouts.connect) { [self] in
            end("no response within \(seconds) s")
        }
    }

    /// Ends the session once: a failure before the head fails the connect future, later the pull
    /// hears `upstreamEnded`.
    func end(_ reason: String) {
        guard loop.inEventLoop else {
            loop.execute { [self] in end(reason) }
            return
        }
        let s = state.value
        guard !s.ended else { return }
        s.ended = true
        s.timer?.cancel()
        s.task?.cancel()
        if let started = s.started {
            s.started = nil
            started.fail(HTTPFLVPullError(description: reason))
        } else {
            let events = s.events
            s.events = nil
            events?.upstreamEnded(reason)
        }
        s.events = nil
    }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let s = state.value
        guard !s.ended else { return loop.makeSucceededVoidFuture() }
        guard (200..<300).contains(head.status.code) else {
            end("HTTP \(head.status.code) \(head.status.reasonPhrase)")
            return loop.makeSucceededVoidFuture()
        }
        s.timer?.cancel()
        let started = s.started
        s.started = nil
        started?.succeed()
        armReceiveCheck()
        return loop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let s = state.value
        guard !s.ended, let events = s.events else { return loop.makeSucceededVoidFuture() }
        do {
            try s.cumulation.parse(buffer) { body in
                while !s.ended, let tag = try s.tags.next(from: &body) {
                    s.pending.removeAll(keepingCapacity: true)
                    try s.reader.read(tag, into: &s.pending)
                    if tag.type != FLVTagType.script { s.sawMedia = true }
                    for event in s.pending { events.upstream(event) }
                }
            }
        } catch {
            end("bad FLV: \(error)")
        }
        return loop.makeSucceededVoidFuture()
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        end("\(error)")
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        end("the server ended the response")
    }

    /// Every `timeouts.receive`: no media since the last look ends the session.
    private func armReceiveCheck() {
        let seconds = Double(timeouts.receive.nanoseconds) / 1e9
        state.value.timer = loop.scheduleTask(in: timeouts.receive) { [self] in
            let s = state.value
            guard !s.ended else { return }
            guard s.sawMedia else {
                end("no media for \(seconds) s")
                return
            }
            s.sawMedia = false
            armReceiveCheck()
        }
    }
}
