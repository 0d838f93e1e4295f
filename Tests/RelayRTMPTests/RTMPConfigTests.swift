import RelayCore
import RelayRTMP
import RelayTestSupport
import Testing

/// The `rtmp` section: defaults, values, and errors that name the key.
@Suite struct RTMPConfigTests: ConfigSuite {
    static var sections: [any ConfigSection.Type] { [RTMPConfig.self] }

    @Test func defaults() throws {
        let rtmp = try parse("{}").rtmp
        #expect(rtmp == RelayConfig.default.rtmp)
        #expect(rtmp.listener.enabled && rtmp.listener.host == "0.0.0.0" && rtmp.listener.port == 1935)
        #expect(rtmp.chunkSize == 4096 && rtmp.hevcMode == "enhanced")
        #expect(rtmp.maxChunkSize == 1 << 20)
        #expect(rtmp.maxMessageSize == 8 << 20)
        #expect(rtmp.handshakeTimeoutMs == 10_000)
        #expect(rtmp.windowAckSize == 2_500_000 && rtmp.maxCommandBytes == 64 << 10 && rtmp.maxBytesBeforeConnect == 8 << 10)
    }

    @Test func valuesAreRead() throws {
        let rtmp = try parse(#"{"rtmp": {"port": 0, "host": "127.0.0.1", "chunk_size": 128, "max_chunk_size": 8192, "hevc_mode": "legacy"}}"#).rtmp
        #expect(rtmp.listener.port == 0 && rtmp.listener.host == "127.0.0.1")
        #expect(rtmp.chunkSize == 128 && rtmp.maxChunkSize == 8192 && rtmp.hevcMode == "legacy")
    }

    @Test func errorsNameTheKey() throws {
        #expect(field(#"{"rtmp": {"port": 70000}}"#) == "rtmp.port")
        #expect(field(#"{"rtmp": {"port": "1935"}}"#) == "rtmp.port")
        #expect(field(#"{"rtmp": {"port": 19.5}}"#) == "rtmp.port")
        #expect(field(#"{"rtmp": {"prot": 1935}}"#) == "rtmp.prot")
        #expect(field(#"{"rtmp": {"chunk_size": 64}}"#) == "rtmp.chunk_size")
        #expect(field(#"{"rtmp": {"max_chunk_size": 64}}"#) == "rtmp.max_chunk_size")
        #expect(field(#"{"rtmp": {"hevc_mode": "hvc1"}}"#) == "rtmp.hevc_mode")
        #expect(field(#"{"rtmp": {"max_command_bytes": 1024, "max_bytes_before_connect": 2048}}"#) == "rtmp.max_bytes_before_connect")
        #expect(field(#"{"rtmp": []}"#) == "rtmp")
        let e = try #require(throws: ConfigError.self) { try parse(#"{"rtmp": {"port": -1}}"#) }
        #expect(e.description.contains("rtmp.port"))
    }
}
