#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP socket on 127.0.0.1 held for a test: listening but never accepting (connections complete
/// in the kernel and then wait: a peer that never answers), or only bound (connections are
/// refused: a server that is down), and no other test can take the port until `close()`.
public final class LoopbackSocket: Sendable {
    public let port: Int
    private let fd: Int32

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(listening: Bool = true) throws {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SetupError(description: "cannot open a socket") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Bool in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard bound, !listening || listen(fd, 64) == 0 else {
            Self.close(fd)
            throw SetupError(description: "cannot bind a port on 127.0.0.1")
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: addr.sin_port))
    }

    public func close() { Self.close(fd) }

    private static func close(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }
}
