import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import RelayAdmin
import RelayCore
import Testing

/// A protocol module the admin API knows nothing about: its endpoints are served, its listener,
/// summary, stats and gauges appear, through the `ProtocolRegistry` alone.
private final class EchoModule: ProtocolModule {
    let name = "echo"
    let said = NIOLockedValueBox<[String]>([])

    func start() async throws {}
    func stop() async {}

    var listeners: [BoundListener] { [BoundListener(name: "echo", host: "127.0.0.1", port: 7)] }
    var receivePorts: [BoundListener] { [BoundListener(name: "echo_udp", transport: "udp", host: "127.0.0.1", port: 9)] }
    var serverConfig: [String: JSONValue] { ["echo": .bool(true)] }
    var stats: [String: JSONValue] { ["echo_said": .number(Double(said.withLockedValue { $0.count }))] }
    var gauges: [ModuleGauge] { [ModuleGauge(name: "relay_echo_said", help: "Said", labels: [("kind", "any")], value: 2)] }

    struct Said: Encodable, Sendable {
        var stream: String
        var text: String
    }

    var adminEndpoints: [AdminEndpoint] {
        [
            AdminEndpoint(.post, "/api/v1/echo/{stream}") { request in
                let stream = try request.stream()
                guard case .string(let text)? = try await request.body()?["text"] else {
                    throw AdminFailure.badRequest("'text' is required")
                }
                self.said.withLockedValue { $0.append(text) }
                return AdminReply(status: 201, Said(stream: stream, text: text))
            },
        ]
    }
}

@Suite struct AdminRegistryTests {
    @Test func aRegisteredModuleIsServedAndSummarised() async throws {
        let module = EchoModule()
        let context = RelayContext(config: .default, muxers: [], logger: Logger(label: "test"))
        let environment = AdminEnvironment(context: context, protocols: ProtocolRegistry([module]), reloadHooks: nil,
                                           configPath: nil, eventLoopThreads: 1)
        var admin = AdminConfig.defaults
        admin.listener.port = 0
        let server = AdminServer(config: admin, environment: environment, group: MultiThreadedEventLoopGroup.singleton,
                                 logger: Logger(label: "test"))
        let channel = try await server.start()
        let port = try #require(channel.localAddress?.port)
        defer { Task { await server.stop() } }

        let said = try await HTTP.request(port: port, "POST", "/api/v1/echo/live%2Fcam", body: #"{"text": "hi"}"#)
        #expect(said.status == 201 && said.body == #"{"stream":"live/cam","text":"hi"}"#, "\(said)")
        #expect(module.said.withLockedValue { $0 } == ["hi"])
        let bad = try await HTTP.request(port: port, "POST", "/api/v1/echo/live/cam", body: "{}")
        #expect(bad.status == 400 && bad.body == #"{"error":"'text' is required","status":400}"#, "\(bad)")
        let badID = try await HTTP.request(port: port, "POST", "/api/v1/echo/live/../x", body: #"{"text": "hi"}"#)
        #expect(badID.status == 400, "\(badID)")
        let wrongMethod = try await HTTP.request(port: port, "GET", "/api/v1/echo/live/cam")
        #expect(wrongMethod.status == 405, "\(wrongMethod)")

        let info = try await HTTP.request(port: port, "GET", "/api/v1/server")
        #expect(info.status == 200)
        #expect(info.body.contains(#""echo":true"#), "\(info.body)")
        // Listeners by name (the admin's own among them), then receive ports.
        #expect(info.body.contains(#""listeners":[{"host":"127.0.0.1","name":"admin","port":\#(port),"transport":"tcp"},{"host":"127.0.0.1","name":"echo","port":7,"transport":"tcp"},{"host":"127.0.0.1","name":"echo_udp","port":9,"transport":"udp"}]"#), "\(info.body)")
        let stats = try await HTTP.request(port: port, "GET", "/api/v1/stats")
        #expect(stats.body.contains(#""echo_said":1"#), "\(stats.body)")
        let metrics = try await HTTP.request(port: port, "GET", "/metrics")
        #expect(metrics.body.contains(#"relay_echo_said{kind="any"} 2.0"#), "\(metrics.body)")
        #expect(metrics.body.contains(#"relay_players{protocol="echo"} 0.0"#), "\(metrics.body)")
        await server.stop()
    }
}

/// One HTTP/1.1 request on a new connection; the answer's status and body.
enum HTTP {
    struct Answer: CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "\(status) \(body)" }
    }

    static func request(port: Int, _ method: String, _ path: String, body: String? = nil) async throws -> Answer {
        let collector = Collector()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) } }
                .connect(host: "127.0.0.1", port: port).get()
        } catch {
            collector.done.fail(error)
            throw error
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        try await channel.writeAndFlush(ByteBuffer(string: head + "\r\n" + (body ?? "")))
        let text = try await collector.done.futureResult.get()
        let status = Int(text.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
        let answerBody = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return Answer(status: status, body: answerBody)
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let done = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: String.self)
        private let text = NIOLockedValueBox("")

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            text.withLockedValue { $0 += String(buffer: buffer) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.succeed(text.withLockedValue { $0 })
        }
    }
}
