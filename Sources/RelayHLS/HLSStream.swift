import Logging
import NIOCore
import RelayCore

/// One source's HLS variant: its segmenter and its sessions. The segmenter is attached with the
/// first session (before it, so the session's kind has its TransStream) and detached with the
/// last, so a stream nobody watches over HLS is not muxed for HLS.
///
/// Confined to the source's event loop (`Source.assumeIsolated` reaches the source there).
final class HLSStream: @unchecked Sendable {
    let source: Source
    let format: HLSFormat
    let segmenter: HLSSegmenter
    var eventLoop: any EventLoop { source.eventLoop }
    private let muxer: MuxerFactory
    private let registry: HLSRegistry
    private let logger: Logger
    private var sessions: [SinkID: HLSSession] = [:]
    private var attached = false
    /// No session left (or the source ended): new sessions need a new stream.
    private(set) var isClosed = false

    init(source: Source, format: HLSFormat, segmenter: HLSSegmenter, muxer: MuxerFactory, registry: HLSRegistry,
         logger: Logger) {
        self.source = source
        self.format = format
        self.segmenter = segmenter
        self.muxer = muxer
        self.registry = registry
        self.logger = logger
        segmenter.onEnd = { [unowned self] in self.sourceEnded() }
    }

    var sessionCount: Int { sessions.count }

    enum AddResult { case added, streamClosed, refused }

    /// Attaches a new session (and the segmenter first, for the first one). `streamClosed`: this
    /// stream just closed, ask the registry again; `refused`: the source is gone or refuses
    /// players (memory budget).
    func add(_ session: HLSSession) -> AddResult {
        eventLoop.assertInEventLoop()
        guard !isClosed else { return .streamClosed }
        let kind = format.kind
        if !attached {
            let segmenter = self.segmenter, muxer = self.muxer
            guard source.assumeIsolated({ $0.attach(segmenter, kind: kind, muxer: muxer) }) else {
                close()
                return .refused
            }
            attached = true
        }
        let muxer = self.muxer
        guard source.assumeIsolated({ $0.attach(session, kind: kind, muxer: muxer) }) else {
            if sessions.isEmpty { close() }
            return .refused
        }
        sessions[session.id] = session
        registry.insert(session)
        session.armExpiry()
        logger.info("\(format.protocolName) session started", metadata: [
            "stream": "\(source.id)", "remote": "\(session.info.remoteAddress)", "player": "\(session.id)",
        ])
        return .added
    }

    /// A session ended (timeout, kick, server stop); `detach` tells the source (on_play_done).
    func remove(_ session: HLSSession, detach: Bool) {
        eventLoop.assertInEventLoop()
        guard sessions.removeValue(forKey: session.id) != nil else { return }
        registry.forget(session)
        if detach {
            let kind = format.kind
            source.assumeIsolated { $0.detach(session, kind: kind) }
            logger.info("\(format.protocolName) session ended", metadata: ["stream": "\(source.id)", "player": "\(session.id)"])
        }
        if sessions.isEmpty { close() }
    }

    /// The last session left: the segmenter leaves too (its TransStream goes with it) and frees
    /// its segments.
    private func close() {
        guard !isClosed else { return }
        isClosed = true
        registry.forget(self)
        segmenter.onEnd = nil
        if attached {
            attached = false
            let segmenter = self.segmenter, kind = format.kind
            source.assumeIsolated { $0.detach(segmenter, kind: kind) }
        }
        segmenter.sourceEnded()
    }

    /// The source ended: it already detached every sink; the sessions go (404 from now on).
    private func sourceEnded() {
        isClosed = true
        attached = false
        registry.forget(self)
        let ending = sessions.values
        sessions.removeAll()
        for session in ending {
            registry.forget(session)
            session.sourceEnded()
        }
    }

    /// Server stop: every session ends as if it timed out.
    func endAll() {
        eventLoop.assertInEventLoop()
        for session in Array(sessions.values) { session.kick(reason: "server stopping") }
    }
}
