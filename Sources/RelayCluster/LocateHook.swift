import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayCore

/// The operator's `on_locate` hook: POST `{"stream": id, "node": node_id}`; a 200 with
/// `{"url": "rtmp://host:port"}` (the origin's base, or a full stream URL; `"node"` optional)
/// names the origin; 404, an empty answer, an error or no answer within `locate_timeout_ms`:
/// not found.
public final class LocateHook: StreamLocator {
    private let url: String
    private let nodeID: String
    private let timeoutMs: Int
    private let client: HTTPClient
    private let logger: Logger
    private let failureLog = NIOLockedValueBox(RateLimitedLog(interval: .seconds(10)))
    static let maxAnswerBytes = 16 << 10

    public init(url: String, nodeID: String, timeoutMs: Int, group: any EventLoopGroup, logger: Logger) {
        self.url = url
        self.nodeID = nodeID
        self.timeoutMs = timeoutMs
        self.logger = logger
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .milliseconds(Int64(timeoutMs))))
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroup: group, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    private struct Ask: Encodable {
        let stream: String
        let node: String
    }

    public func locate(_ stream: String) async -> StreamLocation? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "LiveRelay")
        guard let body = try? JSONEncoder().encode(Ask(stream: stream, node: nodeID)) else { return nil }
        request.body = .bytes(ByteBuffer(bytes: body))
        let status: UInt
        let bytes: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeoutMs)))
            status = response.status.code
            bytes = try await response.body.collect(upTo: Self.maxAnswerBytes)
        } catch {
            failed("on_locate \(stream): \(error)")
            return nil
        }
        guard status == 200 else {
            if status != 404 { failed("on_locate \(stream): HTTP \(status)") }
            return nil
        }
        guard bytes.readableBytes > 0 else { return nil }
        guard let answer = try? JSONValue.parse(Data(bytes.readableBytesView)), case .string(let origin)? = answer["url"] else {
            failed("on_locate \(stream): HTTP 200 without a JSON {\"url\": …}")
            return nil
        }
        guard !origin.isEmpty else { return nil }
        guard let parsed = UpstreamURL(origin), parsed.scheme == .rtmp else {
            failed("on_locate \(stream): '\(printable(origin))' is not an rtmp:// URL")
            return nil
        }
        var node = "\(parsed.host):\(parsed.port)"
        if case .string(let named)? = answer["node"], !named.isEmpty { node = named }
        guard node != nodeID else { return nil }
        return StreamLocation(stream: stream, node: node, url: origin)
    }

    private func failed(_ line: String) {
        if let more = failureLog.withLockedValue({ $0.shouldLog() }) {
            logger.warning("\(line)\(suppressed(more))")
        }
    }
}
