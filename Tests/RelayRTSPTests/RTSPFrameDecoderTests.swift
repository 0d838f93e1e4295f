import NIOCore
import NIOTestUtils
@testable import RelayRTSP
import Testing
import RelayTestSupport

@Suite struct RTSPFrameDecoderTests {
    func decodeAll(_ text: String, decoder: RTSPFrameDecoder = RTSPFrameDecoder()) throws -> [RTSPFrame] {
        var d = decoder
        var buffer = ByteBuffer(string: text)
        var out: [RTSPFrame] = []
        while let f = try d.decode(buffer: &buffer) { out.append(f) }
        return out
    }

    @Test func pipelinedRequestsWithBodiesAndInterleavedDataSplitAnywhere() throws {
        let options = "OPTIONS rtsp://h/live/a RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: test\r\n\r\n"
        let setParam = "SET_PARAMETER rtsp://h/live/a RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 12\r\ncontent-type: text/parameters\r\n\r\nbarparam: x\n"
        let bareLF = "GET_PARAMETER rtsp://h/live/a RTSP/1.0\nCSeq: 3\nSession: ABC;timeout=60\n\n"
        var interleaved = ByteBuffer(bytes: [0x24, 1, 0, 3, 0xAA, 0xBB, 0xCC])
        var all = ByteBuffer(string: options + setParam)
        all.writeBuffer(&interleaved)
        all.writeString(bareLF)

        let expected: [RTSPFrame] = [
            .request(RTSPRequest(method: "OPTIONS", uri: "rtsp://h/live/a",
                                 headers: RTSPHeaders([("CSeq", "1"), ("User-Agent", "test")]))),
            .request(RTSPRequest(method: "SET_PARAMETER", uri: "rtsp://h/live/a",
                                 headers: RTSPHeaders([("CSeq", "2"), ("Content-Length", "12"), ("content-type", "text/parameters")]),
                                 body: ByteBuffer(string: "barparam: x\n"))),
            .interleaved(channel: 1, payload: ByteBuffer(bytes: [0xAA, 0xBB, 0xCC])),
            .request(RTSPRequest(method: "GET_PARAMETER", uri: "rtsp://h/live/a",
                                 headers: RTSPHeaders([("CSeq", "3"), ("Session", "ABC;timeout=60")]))),
        ]
        // All in one buffer, as a pipelining client sends them.
        var d = RTSPFrameDecoder()
        var frames: [RTSPFrame] = []
        while let f = try d.decode(buffer: &all) { frames.append(f) }
        #expect(frames == expected)
        #expect(all.readableBytes == 0)
        // Split at every byte boundary, dripped, shuffled (NIO's verifier).
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: [
            (ByteBuffer(string: options), [expected[0]]),
            (ByteBuffer(string: setParam), [expected[1]]),
            (ByteBuffer(bytes: [0x24, 1, 0, 3, 0xAA, 0xBB, 0xCC]), [expected[2]]),
            (ByteBuffer(string: bareLF), [expected[3]]),
        ], decoderFactory: { RTSPFrameDecoder() })
    }

    @Test func headerNamesAreCaseInsensitiveAndFoldedLinesJoin() throws {
        let frames = try decodeAll("PLAY rtsp://h/a/b RTSP/1.0\r\ncseq: 7\r\nRange: npt=0-\r\nX-Long: one\r\n two\r\n\r\n")
        guard case .request(let r) = frames.first else { Issue.record("no request"); return }
        #expect(r.cseq == "7")
        #expect(r.headers["RANGE"] == "npt=0-")
        #expect(r.headers["x-long"] == "one two")
        #expect(r.headers["Session"] == nil)
    }

    @Test func waitsForTheWholeBody() throws {
        var d = RTSPFrameDecoder()
        var b = ByteBuffer(string: "ANNOUNCE rtsp://h/a RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 10\r\n\r\n12345")
        #expect(try d.decode(buffer: &b) == nil)
        b.writeString("67890OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n")
        guard case .request(let r) = try d.decode(buffer: &b) else { Issue.record("no request"); return }
        #expect(String(buffer: r.body) == "1234567890")
        guard case .request(let r2) = try d.decode(buffer: &b) else { Issue.record("no second request"); return }
        #expect(r2.method == "OPTIONS" && r2.uri == "*")
    }

    @Test func clientResponsesAndBlankLinesAreFramed() throws {
        let frames = try decodeAll("\r\n\r\nRTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
        guard frames.count == 1, case .response(let response) = frames[0] else { Issue.record("\(frames)"); return }
        #expect(response.status == 200 && response.cseq == 1 && response.body.readableBytes == 0)
    }

    @Test func aHugeRequestLineIsRejectedOnceItPassesTheLimit() throws {
        var d = RTSPFrameDecoder()
        var b = ByteBuffer(string: "DESCRIBE rtsp://h/" + String(repeating: "a", count: 1000))
        #expect(try d.decode(buffer: &b) == nil)  // may still complete
        b.writeString(String(repeating: "a", count: 100_000))
        #expect(throws: RTSPParseError.headTooLarge(limit: RTSPFrameDecoder.defaultMaxHeadBytes)) { try d.decode(buffer: &b) }
    }

    @Test func badInputThrowsAClearError() throws {
        #expect(throws: RTSPParseError.malformedStartLine("HELLO")) { try decodeAll("HELLO\r\n\r\n") }
        #expect(throws: RTSPParseError.malformedStartLine("GET / HTTP/1.1")) { try decodeAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }
        #expect(throws: RTSPParseError.unsupportedVersion("RTSP/2.0")) { try decodeAll("OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n") }
        #expect(throws: RTSPParseError.malformedHeader("no colon here")) { try decodeAll("OPTIONS * RTSP/1.0\r\nno colon here\r\n\r\n") }
        #expect(throws: RTSPParseError.badContentLength("-5")) { try decodeAll("OPTIONS * RTSP/1.0\r\nContent-Length: -5\r\n\r\n") }
        #expect(throws: RTSPParseError.bodyTooLarge(length: 1 << 20, limit: RTSPFrameDecoder.defaultMaxBodyBytes)) {
            try decodeAll("OPTIONS * RTSP/1.0\r\nContent-Length: \(1 << 20)\r\n\r\n")
        }
        #expect(throws: RTSPParseError.malformedStartLine("options * RTSP/1.0")) { try decodeAll("options * RTSP/1.0\r\n\r\n") }
    }

    @Test func interleavedFrameWaitsForItsPayload() throws {
        var d = RTSPFrameDecoder()
        var b = ByteBuffer(bytes: [0x24, 0, 0x01, 0x00])
        #expect(try d.decode(buffer: &b) == nil)
        b.writeBytes(pattern(256))
        #expect(try d.decode(buffer: &b) == .interleaved(channel: 0, payload: ByteBuffer(bytes: pattern(256))))
    }
}
