import NIOConcurrencyHelpers
import NIOCore
import RelayCore
import RelayTestSupport
import Testing
@testable import RelayHLS

/// Sessions, playlists, files and blocking requests through the route handler, on a manual loop
/// with a source fed packets directly and a stand-in muxer (the real ones have their own tests).
@Suite struct HLSServiceTests {
    /// Bytes shaped like each variant's: TS packets with PAT before key frames, fMP4 boxes.
    final class StandInMuxer: Muxer {
        let format: HLSFormat
        init(_ format: HLSFormat) { self.format = format }

        func writeHeader(streams: [AVStream], into buffer: inout ByteBuffer) {
            if format == .ts { buffer.writeBytes([0x47, 0x40, 0x00]) } else { buffer.writeImmutableBuffer(Self.initBoxes) }
        }

        func configChanged(_ stream: AVStream, streams: [AVStream], into buffer: inout ByteBuffer) {
            if format == .fmp4 { writeHeader(streams: streams, into: &buffer) }
        }

        func mux(_ packet: AVPacket, stream: AVStream, into buffer: inout ByteBuffer) {
            switch format {
            case .ts: buffer.writeBytes(packet.isVideo && packet.isKeyFrame ? [0x47, 0x40, 0x00] : [0x47, 0x01, 0x00])
            case .fmp4:
                buffer.writeInteger(UInt32(8 + packet.payload.readableBytes))
                buffer.writeString("moof")
            }
            buffer.writeImmutableBuffer(packet.payload)
        }

        static let initBoxes = ByteBuffer(bytes: [0, 0, 0, 8] + Array("ftyp".utf8) + [0, 0, 0, 8] + Array("moov".utf8))
    }

    static let muxers = HLSMuxers(
        factory: { format in MuxerFactory(kind: format.kind, mergePolicy: .fixed(ms: 0)) { StandInMuxer(format) } },
        codecString: { $0.codec == .h264 ? "avc1.64001f" : $0.codec == .aac ? "mp4a.40.2" : nil })

    final class Harness {
        let base: TestRelay
        let service: HLSService
        let publisher: TestPublisher
        var loop: ManualLoop { base.loop }
        var relay: RelayContext { base.relay }
        /// Media time (ms) of the next video frame (25 fps, a key frame every second).
        var nextMs: Int64 = 0

        init(timeoutMs: Int = 30_000) throws {
            var config = RelayConfig.default
            config.hls.sessionTimeoutMs = timeoutMs
            config.source.playWaitMs = 100
            base = TestRelay(config: config)
            service = HLSService(context: base.relay, config: config.hls, group: base.loop, muxers: HLSServiceTests.muxers)
            publisher = try TestPublisher(id: "live/cam", relay: base.relay, loop: base.loop)
        }

        /// Video (and an audio frame beside each) until media time `ms`.
        func frames(until ms: Int64) {
            loop.claim()
            while nextMs < ms {
                let key = nextMs % 1000 == 0
                if key {
                    publisher.sendKeyFrame(at: nextMs)
                } else {
                    let t = nextMs
                    let video = AVPacket(streamIndex: 0, codec: .h264, dts: t, pts: t, isKeyFrame: false,
                                         payload: ByteBuffer(bytes: [0, 0, 0, 3, 0x41, 0x9A, 0x01]))
                    let audio = AVPacket(streamIndex: 1, codec: .aac, dts: t * 441 / 10, pts: t * 441 / 10, isKeyFrame: true,
                                         payload: ByteBuffer(bytes: TestPublisher.aacFrame))
                    publisher.source.assumeIsolated { $0.write(video); $0.write(audio) }
                }
                nextMs += 40
            }
        }

        /// Starts a request; its answer arrives while the loop runs.
        func start(_ path: String, _ query: String = "", method: String = "GET") -> NIOLockedValueBox<HTTPAnswer?> {
            let box = NIOLockedValueBox<HTTPAnswer?>(nil)
            let call = HTTPCall(method: method, path: path, query: query, contentType: nil, body: [], remoteIP: "192.0.2.5")
            let service = self.service
            Task { box.withLockedValue { $0 = nil }; let answer = await service.handle(call); box.withLockedValue { $0 = answer } }
            return box
        }

        func get(_ path: String, _ query: String = "", method: String = "GET") async -> HTTPAnswer? {
            let box = start(path, query, method: method)
            _ = await loop.run(until: { box.withLockedValue { $0 != nil } })
            return box.withLockedValue { $0 }
        }

        /// A new session: its token, from the multivariant playlist.
        func newSession(_ query: String = "") async -> (String, HTTPAnswer?) {
            let answer = await get("/live/cam.m3u8", query)
            let text = answer.map { String(decoding: $0.body, as: UTF8.self) } ?? ""
            let token = text.split(separator: "\n").first { $0.hasPrefix("cam.m3u8?session=") }
                .map { String($0.dropFirst("cam.m3u8?session=".count).prefix(32)) } ?? ""
            return (token, answer)
        }

        func kick(_ id: SinkID) -> Bool {
            loop.claim()
            return publisher.source.assumeIsolated { $0.kick(id, reason: "test") }
        }

        func closeSource() {
            loop.claim()
            publisher.source.assumeIsolated { $0.close(reason: "test") }
        }

        /// Read on the loop, where the session lives.
        func bytesSent(_ token: String) -> UInt64? {
            loop.claim()
            return service.registry.session(token)?.bytesSent
        }

        var players: [OutputKind: Int] { relay.players(of: "live/cam") ?? [:] }
        var outputs: [OutputKind] { publisher.source.assumeIsolated { $0.snapshot().outputs.map(\.kind) } }
    }

    static func text(_ answer: HTTPAnswer?) -> String {
        answer.map { String(decoding: $0.body, as: UTF8.self) } ?? ""
    }

    @Test func aNewSessionGetsTheMultivariantPlaylistAndCountsAsAPlayer() async throws {
        let h = try Harness()
        h.frames(until: 1200)  // a cached GOP
        let (token, answer) = await h.newSession()
        #expect(answer?.status == 200 && answer?.contentType == HLSAnswer.playlistType)
        let text = Self.text(answer)
        #expect(text.contains("#EXT-X-STREAM-INF:BANDWIDTH="))
        #expect(text.contains("CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720"))
        #expect(HLSRegistry.isToken(token[...]))
        #expect(h.players == [.hlsTS: 1])
        // Segment 0 is the cached GOP (from the key frame at 1 s), complete at the next frame: the
        // first playlist waits no longer.
        let pending = h.start("/live/cam.m3u8", "session=\(token)")
        h.frames(until: 1240)
        #expect(await h.loop.run(until: { pending.withLockedValue { $0 != nil } }))
        let playlist = HLSMediaPlaylist(Self.text(pending.withLockedValue { $0 }))
        #expect(playlist.violations.isEmpty, "\(playlist.violations)")
        #expect(playlist.segments.count == 1 && playlist.segments.first?.duration == 0.2, "\(playlist.segments)")
        let uri = playlist.segments[0].uri
        #expect(uri == "cam.hls/\(token)/0.ts")
        let segment = await h.get("/live/\(uri)")
        #expect(segment?.status == 200 && segment?.contentType == "video/mp2t")
        #expect(segment?.headers.contains { $0.0 == "Cache-Control" && $0.1.hasPrefix("max-age") } == true)
        #expect(segment?.body.prefix(3) == [0x47, 0x40, 0x00])
        let head = await h.get("/live/\(uri)", method: "HEAD")
        #expect(head?.contentLength == segment?.contentLength)
        #expect(h.bytesSent(token) == UInt64(segment?.contentLength ?? -1))
    }

    @Test func fmp4SessionsGetLowLatencyPartsAndBlockingReloads() async throws {
        let h = try Harness()
        h.frames(until: 1200)
        let (token, answer) = await h.newSession("format=fmp4")
        #expect(Self.text(answer).contains("cam.m3u8?session=\(token)&format=fmp4"))
        #expect(h.players == [.hlsFMP4: 1])
        h.frames(until: 2600)
        let first = await h.get("/live/cam.m3u8", "session=\(token)")
        let playlist = HLSMediaPlaylist(Self.text(first))
        #expect(playlist.violations.isEmpty, "\(playlist.violations)")
        #expect(playlist.partTarget == 0.25 && playlist.segments.first?.map == "cam.hls/\(token)/init.mp4")
        let initAnswer = await h.get("/live/cam.hls/\(token)/init.mp4")
        #expect(initAnswer?.body == Array(StandInMuxer.initBoxes.readableBytesView))

        // Blocking reload for the part after the last one listed: held until it is cut.
        let msn = playlist.nextMSN, part = playlist.openParts.count
        let blocked = h.start("/live/cam.m3u8", "session=\(token)&_HLS_msn=\(msn)&_HLS_part=\(part)")
        let hinted = h.start("/live/cam.hls/\(token)/\(msn).\(part).m4s")
        _ = await h.loop.run(until: { false }, rounds: 5)
        #expect(blocked.withLockedValue { $0 == nil } && hinted.withLockedValue { $0 == nil })
        h.frames(until: h.nextMs + 280)
        #expect(await h.loop.run(until: { blocked.withLockedValue { $0 != nil } && hinted.withLockedValue { $0 != nil } }))
        let reloaded = HLSMediaPlaylist(Self.text(blocked.withLockedValue { $0 }))
        #expect(reloaded.violations.isEmpty && reloaded.violations(after: playlist).isEmpty)
        let parts = reloaded.segments.first { $0.msn == msn }?.parts ?? reloaded.openParts
        #expect(parts.count > part)
        let partBytes = hinted.withLockedValue { $0 }
        #expect(partBytes?.status == 200 && partBytes?.body.count ?? 0 > 8)

        // Too far ahead: 400 at once. Nothing new for three target durations: 503.
        let ahead = await h.get("/live/cam.m3u8", "session=\(token)&_HLS_msn=\(msn + 3)")
        #expect(ahead?.status == 400)
        let stalled = h.start("/live/cam.m3u8", "session=\(token)&_HLS_msn=\(msn + 1)")
        #expect(await h.loop.run(until: { stalled.withLockedValue { $0 != nil } }, step: .milliseconds(100), rounds: 100))
        #expect(stalled.withLockedValue { $0?.status } == 503)
    }

    @Test func unknownSessionsMethodsAndHostileValuesAreAnsweredNotTrapped() async throws {
        let h = try Harness()
        h.frames(until: 1200)
        let (token, _) = await h.newSession()
        let other = "0123456789abcdef0123456789abcdef"
        #expect(await h.get("/live/cam.m3u8", "session=\(other)")?.status == 404)
        #expect(await h.get("/live/cam.hls/\(other)/0.ts")?.status == 404)
        #expect(await h.get("/live/other.m3u8", "session=\(token)")?.status == 404)
        #expect(await h.get("/live/cam.m3u8", "session=\(token)", method: "POST")?.status == 405)
        for query in ["_HLS_msn=-1", "_HLS_msn=99999999999999999999", "_HLS_part=1", "_HLS_msn=1&_HLS_part=x",
                      "_HLS_msn=%00", "_HLS_msn=9223372036854775807"] {
            #expect(await h.get("/live/cam.m3u8", "session=\(token)&\(query)")?.status == 400, "\(query)")
        }
        for path in ["/live/cam.hls/\(token)/99999999999999999999.ts", "/live/cam.hls/\(token)/1.2.ts",
                     "/live/cam.hls/\(token)/-1.ts", "/live/cam.hls/\(token)/0.m4s", "/live/cam.hls/\(token)/init.mp4",
                     "/live/cam.hls/\(token)/../0.ts", "/live/../cam.m3u8", "/live/cam.hls/\(token)/\(Int.max).0.m4s"] {
            #expect(await h.get(path)?.status ?? 0 >= 400, "\(path)")
        }
        #expect(await h.get("/live/none.m3u8")?.status == 404)
        #expect(await h.get("/live/cam.m3u8", "format=%ff%fe")?.status == 200)
    }

    @Test func aSessionWithoutRequestsExpiresAndTakesTheSegmenterAlong() async throws {
        let h = try Harness(timeoutMs: 1000)
        h.frames(until: 1200)
        let (token, _) = await h.newSession()
        #expect(h.players == [.hlsTS: 1] && h.outputs == [.hlsTS])
        h.frames(until: 1240)
        // Requests keep it alive past the timeout…
        for _ in 0..<4 {
            _ = await h.loop.run(until: { false }, step: .milliseconds(100), rounds: 4)
            #expect(await h.get("/live/cam.m3u8", "session=\(token)")?.status == 200)
        }
        // …silence ends it: on_play_done's player leaves, the segmenter and its TransStream too.
        #expect(await h.loop.run(until: { h.players.isEmpty }, step: .milliseconds(50), rounds: 40))
        #expect(h.outputs.isEmpty && h.service.registry.sessionCount == 0)
        #expect(await h.get("/live/cam.m3u8", "session=\(token)")?.status == 404)
    }

    @Test func kickedAndEndedSessionsAreGone() async throws {
        let h = try Harness()
        h.frames(until: 1200)
        let (kicked, _) = await h.newSession()
        let (ended, _) = await h.newSession("format=fmp4")
        #expect(h.players == [.hlsTS: 1, .hlsFMP4: 1])
        let id = try #require(h.service.registry.session(kicked)?.id)
        #expect(h.kick(id))
        #expect(await h.loop.run(until: { h.players == [.hlsFMP4: 1] }))
        #expect(await h.get("/live/cam.m3u8", "session=\(kicked)")?.status == 404)
        h.closeSource()
        #expect(await h.loop.run(until: { h.service.registry.sessionCount == 0 }))
        #expect(await h.get("/live/cam.hls/\(ended)/init.mp4")?.status == 404)
    }

    @Test func blockedRequestsAreBoundedPerStream() async throws {
        let h = try Harness()
        h.loop.claim()
        var config = HLSConfig.defaults
        config.partMs = 0
        let segmenter = HLSSegmenter(id: 1, eventLoop: h.loop, config: HLSWindowConfig(format: .ts, config: config),
                                     memory: h.relay.memory, maxWaiters: 2)
        var outcomes: [HLSSegmenter.WaitOutcome] = []
        for _ in 0..<3 { segmenter.wait(for: .anySegment, timeoutMs: 1000) { outcomes.append($0) } }
        #expect(outcomes == [.overloaded] && segmenter.waiterCount == 2)
        segmenter.sourceEnded()
        #expect(outcomes == [.overloaded, .ended, .ended])
    }

    @Test func heldSegmentsAreAccountedAndReleased() throws {
        let memory = MemoryBudget(limit: 0)
        let loop = ManualLoop()
        let segmenter = HLSSegmenter(id: 1, eventLoop: loop, config: HLSWindowConfig(format: .fmp4, config: .defaults),
                                     memory: memory)
        segmenter.start(StartupBytes(header: StandInMuxer.initBoxes, segments: []))
        for n in 0..<200 {
            var bytes = ByteBuffer()
            bytes.writeInteger(UInt32(8 + 1000))
            bytes.writeString("moof")
            bytes.writeRepeatingByte(1, count: 1000)
            segmenter.deliver(Segment(bytes: bytes, startsWithKeyFrame: n % 25 == 0, pacingMs: Int64(n) * 40))
        }
        // Every held part is counted as allocated: at least its bytes.
        #expect(memory.usedBytes >= segmenter.window.segments.reduce(0) { $0 + $1.byteCount })
        #expect(memory.usedBytes == segmenter.window.heldBytes && memory.usedBytes > 100_000)
        segmenter.sourceEnded()
        #expect(memory.usedBytes == 0)
    }
}
