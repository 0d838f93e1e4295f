import Foundation
import Testing
@testable import RelayCore

@Suite struct ConfigTests {
    func parse(_ json: String) throws -> RelayConfig { try RelayConfig.parse(Data(json.utf8)) }

    func error(_ json: String) -> ConfigError? {
        do { _ = try parse(json); return nil } catch let e as ConfigError { return e } catch { return nil }
    }

    @Test func emptyObjectGivesDefaults() throws {
        let c = try parse("{}")
        #expect(c.rtmp.listener.port == 1935)
        #expect(c.httpFLV.listener.port == 8080)
        #expect(c.source.mergeWriteMs == 0)
        #expect(c == RelayConfig.default)
    }

    @Test func theShippedConfigFileParses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let c = try RelayConfig.load(path: root.appendingPathComponent("config.json").path)
        #expect(c.rtmp.chunkSize == 4096)
        #expect(c == RelayConfig.default, "config.json shows every key at its default")
    }

    @Test func errorsNameTheField() {
        #expect(error(#"{"rtmp": {"port": 70000}}"#)?.field == "rtmp.port")
        #expect(error(#"{"rtmp": {"port": "1935"}}"#)?.field == "rtmp.port")
        #expect(error(#"{"rtmp": {"port": 19.5}}"#)?.field == "rtmp.port")
        #expect(error(#"{"rtmp": {"prot": 1935}}"#)?.field == "rtmp.prot")
        #expect(error(#"{"colour": 1}"#)?.field == "colour")
        #expect(error(#"{"source": {"gop_cache": 1}}"#)?.field == "source.gop_cache")
        #expect(error(#"{"player": {"slow_policy": "ignore"}}"#)?.field == "player.slow_policy")
        #expect(error(#"{"http_flv": []}"#)?.field == "http_flv")
        #expect(error(#"{"rtmp": {"port": 1935}"#)?.field == "")
        #expect(error(#"[1, 2]"#)?.field == "")
        let e = error(#"{"rtmp": {"port": -1}}"#)
        #expect(e?.description.contains("rtmp.port") == true)
    }

    @Test func streamIDs() {
        #expect(isValidStreamID("live/test"))
        #expect(isValidStreamID("a/b/c-1_2.x"))
        #expect(!isValidStreamID("live/../etc"))
        #expect(!isValidStreamID("live//x"))
        #expect(!isValidStreamID(""))
        #expect(!isValidStreamID("live/a b"))
    }

    @Test func queryStrings() {
        let (path, params) = splitQuery("live/x?token=a%20b&k=&flag")
        #expect(path == "live/x")
        #expect(params == ["token": "a b", "k": "", "flag": ""])
    }
}
