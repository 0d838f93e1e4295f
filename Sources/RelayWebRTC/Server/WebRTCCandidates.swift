import Logging
import NIOCore
import NIOPosix

/// Where the port binds and what the answers advertise.
enum WebRTCCandidates {
    /// The addresses to bind: the listener's host, or (listening on all of them) each local
    /// IPv4 address, loopback included, since a reply must leave from the address it was sent to.
    static func bindAddresses(host: String) -> [String] {
        guard host == "0.0.0.0" || host.isEmpty else { return [host] }
        let devices = (try? System.enumerateDevices()) ?? []
        var found: [String] = []
        for device in devices {
            guard let address = device.address, address.protocol == .inet, let ip = address.ipAddress,
                  !ip.hasPrefix("169.254."), !found.contains(ip) else { continue }
            found.append(ip)
        }
        return found.isEmpty ? ["0.0.0.0"] : found
    }

    /// The host candidates of every answer: the configured addresses (a public address in front of
    /// a NAT, say), else every bound one, loopback last.
    static func addresses(configured: [String], bound: [String], port: Int, logger: Logger) -> [SocketAddress] {
        let names = configured.isEmpty
            ? bound.filter { !$0.hasPrefix("127.") && $0 != "0.0.0.0" } + bound.filter { $0.hasPrefix("127.") }
            : configured
        var addresses: [SocketAddress] = []
        for name in names {
            do {
                addresses.append(try SocketAddress(ipAddress: name, port: port))
            } catch {
                logger.warning("webrtc.candidates: \(name) is not an IP address; left out")
            }
        }
        return addresses
    }
}
