import Foundation

/// Whether `condition` holds within `seconds`, polled every 10 ms: what a test waits on when
/// another thread (a server's event loop, a child process, a database) makes it true.
public func eventually(_ seconds: Double = 5, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return try await condition()
}
