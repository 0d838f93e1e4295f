import NIOConcurrencyHelpers

/// Where a stream is published: the node that holds it and the base URL edges pull it from.
public struct StreamLocation: Sendable, Equatable, Codable {
    public var stream: String
    public var node: String
    /// `rtmp://host:port` (the node's `advertise_url`), or a full stream URL from an `on_locate` hook.
    public var url: String
    /// Since the holder last refreshed it (the registry's rows; 0 from a hook).
    public var ageMs: Int

    public init(stream: String, node: String, url: String, ageMs: Int = 0) {
        self.stream = stream
        self.node = node
        self.url = url
        self.ageMs = ageMs
    }

    enum CodingKeys: String, CodingKey {
        case stream, node, url
        case ageMs = "age_ms"
    }

    /// The URL an edge plays: `url` when it already names the stream, else `url/stream`.
    public var streamURL: String {
        let base = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        if base.hasSuffix("/" + stream) { return url }
        return (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/" + stream
    }
}

/// Answers "which node has this stream?" (the PostgreSQL registry, the `on_locate` hook).
public protocol StreamLocator: Sendable {
    /// nil: nobody has it, or the answer did not come in time (logged by the locator).
    func locate(_ stream: String) async -> StreamLocation?
}

struct DeadlineExceeded: Error, CustomStringConvertible {
    let ms: Int
    var description: String { "no answer within \(ms) ms" }
}

/// `operation`'s result, or DeadlineExceeded after `ms` without waiting for the operation to
/// notice its cancellation (a task group would wait for it).
func withDeadline<T: Sendable>(ms: Int, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let done = NIOLockedValueBox(false)
    var work: Task<Void, Never>?
    var timer: Task<Void, Never>?
    defer {
        work?.cancel()
        timer?.cancel()
    }
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        @Sendable func finish(_ result: Result<T, any Error>) {
            let first = done.withLockedValue { d -> Bool in
                defer { d = true }
                return !d
            }
            if first { continuation.resume(with: result) }
        }
        work = Task {
            do { finish(.success(try await operation())) } catch { finish(.failure(error)) }
        }
        timer = Task {
            try? await Task.sleep(for: .milliseconds(ms))
            finish(.failure(DeadlineExceeded(ms: ms)))
        }
    }
}
