import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why `freeTCPPort` could not find a port.
public struct FreePortError: Error, CustomStringConvertible {
    public let description: String
}

/// A loopback TCP port that was free a moment ago (bound to port 0, then closed): for test
/// servers that must be told their port before they start (nginx, PostgreSQL, a relay process).
public func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FreePortError(description: "socket failed: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw FreePortError(description: "bind failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw FreePortError(description: "getsockname failed: errno \(errno)") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
