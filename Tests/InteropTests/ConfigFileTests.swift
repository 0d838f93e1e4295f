import Foundation
import RelayAdmin
import RelayCore
import RelayFLV
import RelayGB28181
import RelayHLS
import RelayJT1078
import RelayRTMP
import RelayRTSP
import RelayServer
import RelayWebRTC
import Testing

/// config.json at the repo root, with every section the server links.
@Suite struct ConfigFileTests {
    @Test func theShippedConfigFileParses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let c = try RelayConfig.load(path: root.appendingPathComponent("config.json").path)
        #expect(c.rtmp.chunkSize == 4096)
        #expect(c == RelayConfig.default, "config.json shows every key at its default")
        // It writes out every section the server links, so each section is compared key by key.
        let text = try String(contentsOfFile: root.appendingPathComponent("config.json").path, encoding: .utf8)
        for section in RelayServer.configSections {
            #expect(text.contains("\"\(section.key)\":"), "config.json lacks the \(section.key) section")
        }
        #expect(c.rtmp == RTMPConfig.defaults && c.httpFLV == HTTPFLVConfig.defaults && c.record == RecordConfig.defaults)
        #expect(c.rtsp == RTSPConfig.defaults && c.gb28181 == GB28181Config.defaults && c.jt1078 == JT1078Config.defaults)
        #expect(c.admin == AdminConfig.defaults && c.hls == HLSConfig.defaults)
    }

    /// The server's parse knows every module section; a key none declares is refused.
    @Test func theServerReadsEveryModuleSection() throws {
        let c = try RelayConfig.parse(Data(#"{"rtmp": {"chunk_size": 128}, "gb28181": {"port_min": 2000, "port_max": 2001}, "admin": {"port": 1}}"#.utf8))
        #expect(c.rtmp.chunkSize == 128 && c.gb28181.portMax == 2001 && c.admin.listener.port == 1)
        #expect(c.hls.segmentMs == 2000)
        #expect(c.webrtc.listener.port == 8189)
        #expect(throws: ConfigError(field: "srt", message: "unknown key")) { try RelayConfig.parse(Data(#"{"srt": {}}"#.utf8)) }
        #expect(throws: ConfigError(field: "jt1078.port_2019", message: "must differ from port (1078)")) {
            try RelayConfig.parse(Data(#"{"jt1078": {"port_2019": 1078}}"#.utf8))
        }
    }
}
