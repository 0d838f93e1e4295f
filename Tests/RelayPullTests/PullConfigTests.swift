import RelayCore
import Testing
@testable import RelayPull

@Suite struct PullConfigTests {
    @Test func staticPullsAreRead() throws {
        let config = try PullConfig.parse(["pulls": .array([
            .object(["stream": .string("cam/door"), "url": .string("rtsp://u:p@10.0.0.5/h264"), "transport": .string("udp")]),
            .object(["stream": .string("live/a"), "url": .string("rtmp://origin/live/a"), "on_demand": .bool(true)]),
        ])])
        #expect(config.pulls == [
            PullSpec(stream: "cam/door", url: "rtsp://u:p@10.0.0.5/h264", transport: .udp),
            PullSpec(stream: "live/a", url: "rtmp://origin/live/a", onDemand: true),
        ])
    }

    @Test func badEntriesNameTheirField() {
        func error(_ entry: JSONValue) -> String {
            do { _ = try PullConfig.parse(["pulls": .array([entry])]); return "" } catch { return "\(error)" }
        }
        #expect(error(.object(["stream": .string("../x"), "url": .string("rtmp://h/a/b")])).contains("pull.pulls[0].stream"))
        #expect(error(.object(["stream": .string("a/b"), "url": .string("ftp://h/x")])).contains("pull.pulls[0].url"))
        #expect(error(.object(["stream": .string("a/b"), "url": .string("rtmp://h/a/b"), "x": .bool(true)])).contains("pull.pulls[0].x"))
        #expect(error(.string("rtmp://h/a/b")).contains("pull.pulls[0]"))
        #expect(throws: ConfigError.self) { try PullConfig.parse(["reconnect_min_ms": .number(5000), "reconnect_max_ms": .number(1000)]) }
    }
}
