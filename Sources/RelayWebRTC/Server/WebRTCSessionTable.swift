import NIOCore

/// The port's sessions by URL token, by local ICE ufrag (STUN) and by the addresses that passed
/// a check (DTLS and SRTP datagrams). Confined to the port's loop.
struct WebRTCSessionTable {
    private(set) var byID: [String: WebRTCSession] = [:]
    private var byUfrag: [String: WebRTCSession] = [:]
    private var byAddress: [SocketAddress: WebRTCSession] = [:]

    var count: Int { byID.count }

    func session(id: String) -> WebRTCSession? { byID[id] }
    func session(ufrag: String) -> WebRTCSession? { byUfrag[ufrag] }
    func session(at address: SocketAddress) -> WebRTCSession? { byAddress[address] }

    mutating func add(_ session: WebRTCSession) {
        byID[session.id] = session
        byUfrag[session.local.ufrag] = session
    }

    /// Routes `address` to `session`: the latest session to check from an address owns it.
    mutating func route(_ address: SocketAddress, to session: WebRTCSession) {
        byAddress[address] = session
    }

    mutating func remove(_ session: WebRTCSession) {
        if byID[session.id] === session { byID[session.id] = nil }
        if byUfrag[session.local.ufrag] === session { byUfrag[session.local.ufrag] = nil }
        for address in session.addresses where byAddress[address] === session { byAddress[address] = nil }
    }

    /// A session that forgot an address (it keeps at most `WebRTCSession.maxAddresses`).
    mutating func unroute(_ address: SocketAddress, from session: WebRTCSession) {
        if byAddress[address] === session { byAddress[address] = nil }
    }

    var sessions: Dictionary<String, WebRTCSession>.Values { byID.values }
}
