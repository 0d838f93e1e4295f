import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import RelayAdmin
import RelayCore
import Testing

/// The web console's files on the admin listener: served without the token (they hold no data),
/// with their content types; nothing else reachable through them; the API still wants the token.
@Suite struct ConsoleTests {
    /// An admin server on a free port with `token`; stopped by the caller.
    static func start(token: String) async throws -> (AdminServer, Int) {
        let context = RelayContext(config: .default, muxers: [], logger: Logger(label: "test"))
        let environment = AdminEnvironment(context: context, protocols: ProtocolRegistry([]), reloadHooks: nil,
                                           configPath: nil, eventLoopThreads: 1)
        var admin = AdminConfig.defaults
        admin.listener.port = 0
        admin.token = token
        let server = AdminServer(config: admin, environment: environment, group: MultiThreadedEventLoopGroup.singleton,
                                 logger: Logger(label: "test"))
        let channel = try await server.start()
        return (server, try #require(channel.localAddress?.port))
    }

    @Test func thePageAndItsFilesLoadWithoutTheTokenWhileTheAPIWantsIt() async throws {
        let (server, port) = try await Self.start(token: "s3cret")
        let page = try await RawHTTP.get(port: port, "/")
        #expect(page.status == 200, "\(page.head)")
        #expect(page.header("content-type") == "text/html; charset=utf-8")
        #expect(page.header("x-content-type-options") == "nosniff")
        #expect(page.header("content-security-policy")?.contains("default-src 'self'") == true)
        #expect(page.body.contains(#"<script src="/console/app.js""#), "\(page.body)")
        #expect(page.body.contains(#"<script src="/console/player.js""#))

        // Every file the page names is served, with its type and the bytes of the resource.
        for (path, type) in [("/console/app.js", "text/javascript; charset=utf-8"), ("/console/player.js", "text/javascript; charset=utf-8"),
                             ("/console/style.css", "text/css; charset=utf-8"), ("/console/index.html", "text/html; charset=utf-8")] {
            let file = try await RawHTTP.get(port: port, path)
            #expect(file.status == 200 && file.header("content-type") == type, "\(path): \(file.head)")
            #expect(Int(file.header("content-length") ?? "") == file.body.utf8.count, "\(path)")
            #expect(file.body.count > 100, "\(path)")
        }
        let head = try await RawHTTP.get(port: port, "/console/app.js", method: "HEAD")
        #expect(head.status == 200 && head.body.isEmpty && Int(head.header("content-length") ?? "") ?? 0 > 100, "\(head.head)")

        // The API behind the same listener still answers 401 without the token, 200 with it.
        let refused = try await RawHTTP.get(port: port, "/api/v1/streams")
        #expect(refused.status == 401 && refused.header("www-authenticate") != nil, "\(refused.head)")
        let allowed = try await RawHTTP.get(port: port, "/api/v1/streams", headers: ["Authorization: Bearer s3cret"])
        #expect(allowed.status == 200 && allowed.body.contains(#""streams":[]"#), "\(allowed.head)\(allowed.body)")
        await server.stop()
    }

    @Test func unknownFilesAndEscapesAre404() async throws {
        let (server, port) = try await Self.start(token: "s3cret")
        for path in ["/console/nothing.js", "/console/", "/console/../api/v1/streams", "/console/..%2Fapi%2Fv1%2Fstreams",
                     "/console/%2e%2e/AdminAPI.swift", "/console/.hidden", "/console/sub/app.js", "/console/app.js%00.css"] {
            let answer = try await RawHTTP.get(port: port, path, headers: ["Authorization: Bearer s3cret"])
            #expect(answer.status == 404, "\(path): \(answer.head)")
            #expect(answer.body.contains(#""status":404"#), "\(path): \(answer.body)")
            #expect(!answer.body.contains(#""streams""#), "\(path) reached the API")
        }
        // Only GET and HEAD serve the page; another method goes on to the API's rules (the token).
        let post = try await RawHTTP.get(port: port, "/", method: "POST")
        #expect(post.status == 401, "\(post.head)")
        await server.stop()
    }

    @Test func pathsAndTypes() {
        #expect(ConsoleFiles.name(forPath: "/") == "index.html")
        #expect(ConsoleFiles.name(forPath: "/console/app.js") == "app.js")
        #expect(ConsoleFiles.name(forPath: "/console/../x") == "")
        #expect(ConsoleFiles.name(forPath: "/console/a/b.js") == "")
        #expect(ConsoleFiles.name(forPath: "/api/v1/streams") == nil)
        #expect(ConsoleFiles.name(forPath: "/index.html") == nil)
        #expect(ConsoleFiles.contentType(of: "a.svg") == "image/svg+xml")
        #expect(ConsoleFiles.contentType(of: "README") == "application/octet-stream")
    }

    /// A folder without the files (a binary copied away from its resource bundle) serves nothing
    /// and the server goes on.
    @Test func aMissingFolderServesNothing() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        try Data(count: ConsoleFiles.maxFileBytes + 1).write(to: empty.appendingPathComponent("big.js"))
        try Data("x".utf8).write(to: empty.appendingPathComponent("ok.css"))
        let files = ConsoleFiles.load(folder: empty, logger: Logger(label: "test"))
        #expect(files["big.js"] == nil)
        #expect(files["ok.css"]?.contentType == "text/css; charset=utf-8")
        #expect(ConsoleFiles.load(folder: empty.appendingPathComponent("none"), logger: Logger(label: "test")).files.isEmpty)
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`); the answer's head and body.
enum RawHTTP {
    struct Answer {
        var head: String
        var body: String
        var status: Int { Int(head.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0 }

        func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name { return parts[1].trimmingCharacters(in: .whitespaces) }
            }
            return nil
        }
    }

    static func get(port: Int, _ path: String, method: String = "GET", headers: [String] = []) async throws -> Answer {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        let head = ([ "\(method) \(path) HTTP/1.1", "Host: localhost", "Connection: close"] + headers).joined(separator: "\r\n")
        try await channel.writeAndFlush(ByteBuffer(string: head + "\r\n\r\n"))
        try await channel.closeFuture.get()
        let text = collector.text.withLockedValue { $0 }
        guard let split = text.range(of: "\r\n\r\n") else { return Answer(head: text, body: "") }
        return Answer(head: String(text[..<split.lowerBound]), body: String(text[split.upperBound...]))
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let text = NIOLockedValueBox("")

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            text.withLockedValue { $0 += String(buffer: buffer) }
        }
    }
}
