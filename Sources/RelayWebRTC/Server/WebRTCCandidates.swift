import Logging
import NIOCore
import NIOPosix

/// The host candidates a session's answer lists: the configured addresses, else the listener's
/// host, else (listening on every address) each IPv4 address of the machine, loopback last.
enum WebRTCCandidates {
    static func addresses(configured: [String], host: String, port: Int, logger: Logger) -> [SocketAddress] {
        let names: [String]
        if !configured.isEmpty {
            names = configured
        } else if host != "0.0.0.0" && host != "::" && !host.isEmpty {
            names = [host]
        } else {
            let devices = (try? System.enumerateDevices()) ?? []
            var found: [String] = []
            for device in devices {
                guard let ip = device.address?.ipAddress, device.address?.protocol == .inet, !found.contains(ip) else { continue }
                found.append(ip)
            }
            names = found.filter { !$0.hasPrefix("127.") } + found.filter { $0.hasPrefix("127.") }
        }
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
