import Foundation
import FuzzSupport
import NIOConcurrencyHelpers
import NIOCore
import RelayCore
@testable import RelayHLS
import RelayTestSupport

/// HLS from the outside: a live H.264 + AAC stream (key frames where the input says) served by
/// the real segmenter and muxers (TS and fMP4 with LL-HLS parts), and requests whose paths,
/// session tokens and queries (`_HLS_msn`, `_HLS_part`, `format` …) come from the input,
/// interleaved with media and time. Checks, for any input:
///
/// - every answer has a status an HLS client can act on (200, 400, 404, 405, 503), and a 200
///   playlist starts with `#EXTM3U`, a 200 TS segment is whole 188-byte packets;
/// - no request hangs: once the input ends and time runs past every blocking bound, every
///   request started has been answered;
/// - the stream's end (publisher gone) leaves no session and no segmenter behind.
@main
enum FuzzerMain: FuzzTarget {
    static let config: RelayConfig = {
        var config = RelayConfig.default
        config.source.playWaitMs = 0
        config.hls.segmentMs = 1000
        config.hls.partMs = 200
        config.hls.sessionTimeoutMs = 5000
        return config
    }()

    static func fuzz(_ input: [UInt8]) {
        let relay = TestRelay(config: config)
        let loop = relay.loop
        let service = HLSService(context: relay.relay, config: config.hls, group: loop, muxers: .standard)
        guard let publisher = try? TestPublisher(id: "live/cam", relay: relay.relay, loop: loop) else { return }
        var feed = Feed(input)
        var tokens: [String] = []
        var pending: [NIOLockedValueBox<HTTPAnswer?>] = []
        var mediaMs: Int64 = 0
        publisher.sendKeyFrame(at: 0)

        while let op = feed.byte() {
            switch op & 7 {
            case 0, 1, 2:
                // Media: up to 16 frames of 40 ms; the input picks which are key frames.
                let count = Int((op >> 3) & 15) + 1
                for _ in 0..<count {
                    mediaMs += 40
                    if feed.byte().map({ $0 & 7 == 0 }) ?? false {
                        publisher.sendKeyFrame(at: mediaMs)
                    } else {
                        sendFrames(publisher, at: mediaMs)
                    }
                }
            case 3, 4:
                let request = feed.request(tokens: tokens)
                pending.append(start(service, path: request.path, query: request.query))
            case 5, 6:
                loop.advance(by: .milliseconds(Int64(op >> 3) * 50))
            default:
                if op >> 3 == 31 { publisher.source.assumeIsolated { $0.close(reason: "fuzz") } }
            }
            settle(loop, waiting: pending.count)
            for box in pending {
                guard let answer = box.withLockedValue({ $0 }) else { continue }
                check(answer)
                if let token = sessionToken(in: answer) { tokens.append(token) }
            }
            pending.removeAll { $0.withLockedValue { $0 != nil } }
        }
        // Every blocking request gives up within a few target durations.
        for _ in 0..<40 where pending.contains(where: { $0.withLockedValue { $0 == nil } }) {
            loop.advance(by: .milliseconds(500))
            settle(loop, waiting: pending.count)
        }
        for box in pending {
            guard let answer = box.withLockedValue({ $0 }) else {
                invariant(false, "an HLS request is still unanswered 20 s after the input ended")
                return
            }
            check(answer)
        }
        publisher.source.assumeIsolated { $0.close(reason: "fuzz end") }
        loop.advance(by: .seconds(10))
        settle(loop, waiting: 1)
        invariant(service.registry.sessionCount == 0, "\(service.registry.sessionCount) HLS sessions left after the stream ended")
    }

    static func sendFrames(_ publisher: TestPublisher, at ms: Int64) {
        let video = AVPacket(streamIndex: 0, codec: .h264, dts: ms, pts: ms, isKeyFrame: false,
                             payload: ByteBuffer(bytes: [0, 0, 0, 3, 0x41, 0x9A, 0x01]))
        let audio = AVPacket(streamIndex: 1, codec: .aac, dts: ms * 441 / 10, pts: ms * 441 / 10, isKeyFrame: true,
                             payload: ByteBuffer(bytes: TestPublisher.aacFrame))
        publisher.source.assumeIsolated { source in
            guard !source.isClosed else { return }
            source.write(video)
            source.write(audio)
        }
    }

    static func start(_ service: HLSService, path: String, query: String) -> NIOLockedValueBox<HTTPAnswer?> {
        let box = NIOLockedValueBox<HTTPAnswer?>(nil)
        let call = HTTPCall(method: "GET", path: path, query: query, contentType: nil, body: [], remoteIP: "192.0.2.7")
        Task { let answer = await service.handle(call); box.withLockedValue { $0 = answer } }
        return box
    }

    /// Lets the requests' tasks (which hop through the source's actor on this loop) run; with no
    /// request in flight there is nothing to wait for.
    static func settle(_ loop: ManualLoop, waiting: Int) {
        for _ in 0..<(waiting > 0 ? 10 : 0) {
            loop.run()
            usleep(20)
        }
        loop.run()
    }

    static func check(_ answer: HTTPAnswer) {
        invariant([200, 400, 404, 405, 503].contains(answer.status), "HLS answered HTTP \(answer.status)")
        guard answer.status == 200 else { return }
        if answer.contentType.contains("mpegurl") {
            invariant(answer.body.starts(with: Array("#EXTM3U".utf8)), "a playlist that does not start with #EXTM3U")
        } else if answer.contentType == "video/mp2t" {
            invariant(answer.contentLength % 188 == 0, "a TS segment of \(answer.contentLength) bytes")
        }
    }

    /// The session token of a multivariant playlist's media playlist URI.
    static func sessionToken(in answer: HTTPAnswer) -> String? {
        guard answer.status == 200, answer.contentType.contains("mpegurl") else { return nil }
        let text = String(decoding: answer.body, as: UTF8.self)
        guard let range = text.range(of: "session=") else { return nil }
        return String(text[range.upperBound...].prefix { $0.isLetter || $0.isNumber })
    }
}

/// The input read as operations.
struct Feed {
    private var bytes: ArraySlice<UInt8>

    init(_ input: [UInt8]) { bytes = input[...] }

    mutating func byte() -> UInt8? { bytes.popFirst() }

    /// A request: the shape from one byte (new session, media playlist, segment, part, init, or a
    /// raw path), a known token or garbage, and a query up to the next 0x00.
    mutating func request(tokens: [String]) -> (path: String, query: String) {
        let shape = byte() ?? 0
        let token = tokens.isEmpty ? "0123456789abcdef0123456789abcdef" : tokens[Int(shape >> 3) % tokens.count]
        let n = Int(byte() ?? 0)
        let query = text()
        switch shape % 7 {
        case 0: return ("/live/cam.m3u8", (shape & 0x80 != 0 ? "format=fmp4&" : "") + query)
        case 1: return ("/live/cam.m3u8", "session=\(token)&" + query)
        case 2: return ("/live/cam.hls/\(token)/\(n).ts", query)
        case 3: return ("/live/cam.hls/\(token)/\(n).m4s", query)
        case 4: return ("/live/cam.hls/\(token)/\(n / 16).\(n % 16).m4s", query)
        case 5: return ("/live/cam.hls/\(token)/init.mp4", query)
        default: return (text(), query)
        }
    }

    private mutating func text() -> String {
        var out: [UInt8] = []
        while let b = byte(), b != 0, out.count < 256 { out.append(b) }
        return String(decoding: out, as: UTF8.self)
    }
}
