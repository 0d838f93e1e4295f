import NIOCore
import NIOHTTP1
import RelayCore
@testable import RelayFLV
import RelayTestSupport
import Testing

/// Route calls on the players' HTTP port (HLS polling, `/index/api`): a client that keeps the
/// connection alive gets one answer per request on it; `Connection: close` and a request sent
/// before the previous one was answered (pipelining) end the connection after the answer.
@Suite struct HTTPRouteKeepAliveTests {
    final class Harness: TestRelay {
        init() {
            super.init(muxers: [FLVMuxer.factory(hevcMode: .enhanced)])
            relay.httpRoutes.install([
                HTTPRoute(onAdminPort: false, matching: { $0.hasSuffix(".txt") }) { call in
                    HTTPAnswer(contentType: "text/plain", buffers: [ByteBuffer(string: "a:"), ByteBuffer(string: call.path)],
                               headers: [("Cache-Control", "no-cache"), ("Bad\r\nName", "x")])
                },
                // Answers at once unless the query says "wait".
                HTTPRoute(onAdminPort: false, matching: { $0.hasSuffix(".now") },
                          answerNow: { $0.query == "wait" ? nil : HTTPAnswer(contentType: "text/plain", body: Array("now".utf8)) },
                          handle: { _ in HTTPAnswer(contentType: "text/plain", body: Array("later".utf8)) }),
            ])
        }

        func connect() throws -> (ManualChannel, WrittenBytes) {
            let (channel, written) = try capturedChannel(ip: "192.0.2.9", port: 7001)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try channel.pipeline.syncOperations.addHandler(HTTPFLVHandler(relay: relay, logger: relay.logger))
            channel.activate()
            return (channel, written)
        }
    }

    static func text(_ b: ByteBuffer) -> String { String(decoding: b.readableBytesView, as: UTF8.self) }

    @Test func keepAliveAnswersEveryRequestOnOneConnection() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        channel.receive(ByteBuffer(string: "GET /one.txt HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(await h.loop.run(until: { Self.text(written.buffer).hasSuffix("a:/one.txt") }))
        let first = Self.text(written.take())
        #expect(first.hasPrefix("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"))
        #expect(first.contains("Content-Length: 10\r\n") && first.contains("Cache-Control: no-cache\r\n"))
        #expect(!first.contains("Bad"), "a header name that is not a token is not written")
        #expect(channel.isActive)

        channel.receive(ByteBuffer(string: "GET /two.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        #expect(await h.loop.run(until: { !channel.isActive }))
        let second = Self.text(written.take())
        #expect(second.hasPrefix("HTTP/1.1 200 OK\r\nConnection: close\r\n") && second.hasSuffix("a:/two.txt"))
    }

    @Test func aRouteThatCanAnswerAtOnceDoesSoOnTheLoop() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        channel.receive(ByteBuffer(string: "GET /x.now HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(Self.text(written.take()).hasSuffix("\r\n\r\nnow"), "answered within the read, no task")
        channel.receive(ByteBuffer(string: "GET /x.now?wait HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(await h.loop.run(until: { Self.text(written.buffer).hasSuffix("later") }))
        #expect(channel.isActive)
    }

    @Test func aClientThatAsksWithoutReadingGetsOneMoreAnswerThenTheEnd() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        channel.receive(ByteBuffer(string: "GET /x.now HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(Self.text(written.take()).contains("Connection: keep-alive"))
        channel.isWritable = false  // the answer is still queued: the client does not read
        channel.receive(ByteBuffer(string: "GET /x.now HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(await h.loop.run(until: { !channel.isActive }))
        #expect(Self.text(written.take()).contains("Connection: close"))
    }

    @Test func aPipelinedRequestClosesAfterTheAnswer() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        channel.receive(ByteBuffer(string: "GET /one.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /two.txt HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(await h.loop.run(until: { !channel.isActive }))
        let out = Self.text(written.take())
        #expect(out.contains("Connection: close\r\n") && out.hasSuffix("a:/one.txt"))
    }

    @Test func headGetsTheHeadersWithoutTheBody() async throws {
        let h = Harness()
        let (channel, written) = try h.connect()
        channel.receive(ByteBuffer(string: "HEAD /one.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        #expect(await h.loop.run(until: { !channel.isActive }))
        let out = Self.text(written.take())
        #expect(out.contains("Content-Length: 10\r\n") && out.hasSuffix("\r\n\r\n"))
    }
}
