import Foundation
import NIOCore
import NIOPosix
import RelayCore
import RelayGB28181
import RelayTestSupport
import Testing
@testable import RelayZLM

/// A facade over a running GB28181 service on loopback (free ports), without the rest of the
/// server: calls go straight to its route as the HTTP listeners hand them over.
struct ZLMHarness {
    static let secret = "035c73f7-bb6b-4889-a715-d9eb2d1925cc"

    let facade: ZLMFacade
    let gb: GB28181Service
    let context: RelayContext
    let settings: ZLMSettings
    let lines: LogLines

    /// `zlm`: extra keys of the zlm section; `ports`: what the listeners would report.
    static func start(enabled: Bool = true, zlm: String = "", gb28181: String = "", source: String = "",
                      ports: [String: Int] = ["rtmp": 1935, "http_flv": 8080, "rtsp": 8554, "admin": 9090]) async throws -> ZLMHarness {
        let json = """
        {"zlm": {"enabled": \(enabled), "secret": "\(secret)", "media_server_id": "your_server_id"\(zlm)},
         "gb28181": {"host": "127.0.0.1", "shared_udp_port": 0, "shared_tcp_port": 0,
                     "port_min": 47300, "port_max": 47399, "connect_retry_ms": 200\(gb28181)},
         "source": {"track_wait_ms": 300\(source)}}
        """
        let config = try RelayConfig.parse(Data(json.utf8), sections: [GB28181Config.self, ZLMConfig.self])
        let lines = LogLines()
        let context = RelayContext(config: config, muxers: [], logger: lines.logger(label: "zlm-test"))
        let gb = GB28181Service(context: context, group: MultiThreadedEventLoopGroup.singleton)
        try await gb.start()
        let settings = ZLMSettings(config: config.zlm)
        let facade = ZLMFacade(context: context, gb28181: gb, settings: settings, ports: { ports })
        return ZLMHarness(facade: facade, gb: gb, context: context, settings: settings, lines: lines)
    }

    func stop() async { await gb.stop() }

    /// A form POST as wvp sends it (`secret` first), answered as JSON.
    func post(_ route: String, _ form: String, remoteIP: String = "10.0.0.5") async throws -> JSONValue {
        let body = "secret=\(Self.secret)" + (form.isEmpty ? "" : "&" + form)
        return try await call(route, method: "POST", query: "", contentType: "application/x-www-form-urlencoded",
                              body: body, remoteIP: remoteIP)
    }

    func call(_ route: String, method: String = "GET", query: String = "", contentType: String? = nil, body: String = "",
              remoteIP: String = "10.0.0.5") async throws -> JSONValue {
        let answer = await raw(route, method: method, query: query, contentType: contentType, body: body, remoteIP: remoteIP)
        #expect(answer.status == 200)
        #expect(answer.contentType.hasPrefix("application/json"))
        let json = try JSONValue.parse(Data(answer.body))
        // The one rule every reply keeps: a code and a message, never the platform's -2.
        #expect(json["code"] != nil && json["msg"] != nil, "reply without code/msg: \(json)")
        #expect(json["code"] != .number(-2))
        return json
    }

    func raw(_ route: String, method: String = "GET", query: String = "", contentType: String? = nil, body: String = "",
             remoteIP: String = "10.0.0.5") async -> HTTPAnswer {
        await facade.handle(HTTPCall(method: method, path: ZLMFacade.prefix + route, query: query, contentType: contentType,
                                     body: Array(body.utf8), remoteIP: remoteIP))
    }

    /// A ready H.264 + AAC stream `id` published over `protocolName` from `remote`, on a real
    /// event loop (what any ingest hands the core).
    func publish(_ id: String, protocolName: String = "rtmp", remote: String = "192.0.2.9:4000") async throws -> Source {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let info = SessionInfo(sessionID: String(context.nextID()), protocolName: protocolName, remoteAddress: remote)
        let source = Source(id: id, eventLoop: loop, publisher: info, context: context)
        try context.registry.register(source)
        let video = try AVStream.h264(index: 0, timebase: 1000, avcRecord: ByteBuffer(bytes: TestPublisher.avcRecord))
        let audio = try AVStream.aac(index: 1, timebase: 44_100, asc: ByteBuffer(bytes: TestPublisher.aacConfig))
        try await loop.submit {
            source.assumeIsolated { s in
                s.expectTracks(video: true, audio: true)
                s.updateStream(video)
                s.updateStream(audio)
                s.write(AVPacket(streamIndex: 0, codec: .h264, dts: 0, pts: 0, isKeyFrame: true, payload: ByteBuffer(bytes: TestPublisher.keyFrame)))
                s.write(AVPacket(streamIndex: 1, codec: .aac, dts: 0, pts: 0, isKeyFrame: true, payload: ByteBuffer(bytes: TestPublisher.aacFrame)))
            }
        }.get()
        #expect(await source.isReady)
        return source
    }
}
