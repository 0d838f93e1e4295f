import NIOCore
import RelayCore

/// One client's RTSP session: the stream, the tracks it set up and how, and its player while
/// playing. Sessions live on their RTSP connection (and end with it). Confined to its loop.
final class RTSPSession {
    struct Track {
        let streamIndex: Int
        /// The SETUP URL, echoed in RTP-Info.
        let controlURL: String
        let transport: RTSPTransport
        /// The channels its RTP and RTCP are framed on in the shared segments (the client's own
        /// for TCP; 2n, 2n+1 for UDP).
        let rtp: UInt8
        let rtcp: UInt8
        let udp: UDPSocketPair?
    }

    let id: String
    let source: Source
    let streams: [AVStream]
    let info: SessionInfo
    var tracks: [Track] = []
    var player: RTSPPlayerSink?

    init(id: String, source: Source, streams: [AVStream], info: SessionInfo) {
        self.id = id
        self.source = source
        self.streams = streams
        self.info = info
    }

    var isTCP: Bool? { tracks.first.map { $0.transport.isTCP } }

    var layout: RTPChannelLayout {
        RTPChannelLayout(tracks.map { RTPChannelLayout.Entry(streamIndex: $0.streamIndex, rtp: $0.rtp, rtcp: $0.rtcp) })
    }

    /// Stops playing (PAUSE, TEARDOWN, connection closed); the TransStream loses this player.
    func stopPlaying() {
        guard let player else { return }
        self.player = nil
        player.stop()
        source.detachLater(player, kind: player.layout.kind)
    }

    /// Ends the session: stops playing and gives back its UDP ports.
    func end(ports: UDPPortAllocator) {
        stopPlaying()
        for track in tracks {
            guard let udp = track.udp else { continue }
            udp.close()
            ports.release(udp.port)
        }
        tracks.removeAll()
    }

    static func makeID() -> String {
        String(UInt64.random(in: 1...UInt64.max), radix: 16, uppercase: true)
    }
}
