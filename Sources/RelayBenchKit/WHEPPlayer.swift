import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayWebRTC

/// A WebRTC viewer over WHEP, as a browser plays a stream: POSTs a recvonly offer (H.264 + G.711)
/// to `/APP/STREAM/whep`, then on a UDP socket of its own does ICE, DTLS-SRTP and receives the
/// media (`WHEPMediaHandler`), counting whole frames; `close()` DELETEs the session.
/// `PlayerStats.connectedAt` is when the offer was sent; the milestones give the answer, ICE,
/// DTLS and the first RTP packet.
public final class WHEPPlayer: Sendable {
    let state: NIOLockedValueBox<PlayerStats>
    let transportState: NIOLockedValueBox<WHEPTransportStats>
    let channel: any Channel
    private let host: String
    private let port: Int
    private let location: String?
    private let group: any EventLoopGroup

    /// The DTLS certificate of every viewer of this process (browsers make one per connection;
    /// making 200 would only measure key generation).
    static let certificate = Result { () throws(DTLSError) -> DTLSCertificate in try DTLSCertificate.generate(commonName: "relay-bench") }

    /// `path`: /APP/STREAM, or /APP/STREAM/whep (which a stream named "whep" needs); `receiveBufferBytes`: SO_RCVBUF of the UDP
    /// socket (0: 4 MiB, room for the GOP cache burst and a loaded machine).
    /// `dropVideoPercent`: video packets dropped on arrival (a lossy link: the relay's NACK path).
    public static func connect(host: String, port: Int, path: String, group: any EventLoopGroup, measureLatency: Bool = false,
                               receiveBufferBytes: Int = 0, dropVideoPercent: Int = 0) async throws -> WHEPPlayer {
        let certificate = try certificate.get()
        let local = ICECredentials.random()
        let endpoint = path.hasSuffix("/whep") ? path : path + "/whep"
        let offer = WHEPOffer.render(ice: local, fingerprint: certificate.fingerprint, sessionID: UInt64.random(in: 1 ... .max >> 1))
        let state = NIOLockedValueBox(PlayerStats(connectedAt: .now()))
        let reply = try await WHEPExchange.send(.POST, host: host, port: port, path: endpoint, body: offer, group: group)
        state.withLockedValue {
            $0.status = reply.status
            $0.milestones.append(("answer", .now()))
        }
        guard reply.status == 201 else {
            let why = reply.body.prefix(200).split(whereSeparator: \.isNewline).joined(separator: " ")
            throw WHEPError("POST \(endpoint): HTTP \(reply.status) \(why)")
        }
        let answer = try WHEPAnswer(parsing: reply.body)
        guard answer.videoPayloadType != nil else { throw WHEPError("POST \(endpoint): the answer has no video") }
        let session = WHEPSessionParameters(server: answer.candidate, local: local, remote: answer.ice,
                                            remoteFingerprint: answer.fingerprint, certificate: certificate,
                                            videoPayloadType: answer.videoPayloadType, audioPayloadType: answer.audioPayloadType,
                                            measureLatency: measureLatency, dropVideoPercent: dropVideoPercent)
        let transport = NIOLockedValueBox(WHEPTransportStats())
        let vectorRead = 8
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes > 0 ? receiveBufferBytes : 4 << 20))
            .channelOption(.datagramVectorReadMessageCount, value: vectorRead)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: vectorRead * 2048))
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(WHEPMediaHandler(session: session, stats: state, transport: transport))
                }
            }
            .bind(host: answer.candidate.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
        var location = reply.location
        if let l = location, let r = l.range(of: "://") {  // an absolute URL: its path
            location = l[r.upperBound...].firstIndex(of: "/").map { String(l[$0...]) }
        }
        return WHEPPlayer(state: state, transport: transport, channel: channel, host: host, port: port,
                          location: location, group: group)
    }

    private init(state: NIOLockedValueBox<PlayerStats>, transport: NIOLockedValueBox<WHEPTransportStats>, channel: any Channel,
                 host: String, port: Int, location: String?, group: any EventLoopGroup) {
        self.state = state
        self.transportState = transport
        self.channel = channel
        self.host = host
        self.port = port
        self.location = location
        self.group = group
    }

    public var stats: PlayerStats { state.withLockedValue { $0 } }
    public var transport: WHEPTransportStats { transportState.withLockedValue { $0 } }

    /// Time from the answer to the first video frame.
    public var answerToFirstFrame: TimeAmount? {
        let s = stats
        guard let first = s.firstVideoAt, let answer = s.milestones.first(where: { $0.step == "answer" })?.at else { return nil }
        return first - answer
    }

    public func startWindow() { state.withLockedValue { $0.startWindow() } }

    /// Stops reading the socket: the kernel drops what does not fit its buffer, as UDP does.
    public func stall() async { await channel.setReading(false) }

    public func resume() async { await channel.setReading(true) }

    /// Closes the socket (no DTLS alert answers the server's own close), then DELETEs the session
    /// (its answer waited for a second at most).
    public func close() async {
        try? await channel.close()
        if let location {
            _ = try? await WHEPExchange.send(.DELETE, host: host, port: port, path: location, body: nil, group: group,
                                             timeout: .seconds(1))
        }
    }
}
