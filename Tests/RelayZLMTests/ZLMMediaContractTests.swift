import Foundation
import RelayCore
import Testing
@testable import RelayZLM

/// The stream routes against recorded request/response pairs: requests as wvp-GB28181-pro
/// sends them (`media/zlm/ZLMMediaNodeServerService.java` getMediaInfo / getMediaList,
/// `service/impl/RtpServerServiceImpl.java` closeRTPServer → close_streams, `gb28181/session/
/// SSRCFactory.java` reading `originType`/`originUrl`); replies as ZLMediaKit builds them
/// (`server/WebApi.cpp` `makeMediaSourceJson`, `dumpTracks`, `getMediaList`, `getMediaInfo`,
/// `isMediaOnline`, `close_streams`, `kick_session`; `src/Common/MediaSource.h`
/// `MediaOriginType`).
@Suite struct ZLMMediaContractTests {
    /// getMediaList(vhost, app, stream): one entry per schema, with the fields of
    /// `makeMediaSourceJson` (schema, vhost, app, stream, params, createStamp, aliveSecond,
    /// bytesSpeed, totalBytes, readerCount, totalReaderCount, originType, originTypeStr,
    /// originUrl, originSock, isRecordingMP4, isRecordingHLS, tracks).
    @Test func getMediaListOneEntryPerSchema() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.publish("live/cam1", protocolName: "rtmp", remote: "192.0.2.9:4000")
        let reply = try await h.post("getMediaList", "vhost=__defaultVhost__")
        guard case .array(let data)? = reply["data"] else { Issue.record("no data: \(reply)"); return }
        #expect(data.map { $0["schema"] } == [.string("rtmp"), .string("rtsp")])
        let e = data[0]
        #expect(e["app"] == .string("live") && e["stream"] == .string("cam1") && e["vhost"] == .string("__defaultVhost__"))
        #expect(e["originType"] == .number(1) && e["originTypeStr"] == .string("rtmp_push"))
        #expect(e["originUrl"] == .string("rtmp://__defaultVhost__/live/cam1"))
        #expect(e["readerCount"] == .number(0) && e["totalReaderCount"] == .number(0))
        #expect(e["originSock"]?["peer_ip"] == .string("192.0.2.9"))
        #expect(e["originSock"]?["peer_port"] == .number(4000))
        for key in ["createStamp", "aliveSecond", "bytesSpeed", "totalBytes", "params", "isRecordingMP4", "isRecordingHLS"] {
            #expect(e[key] != nil, "\(key)")
        }
        // dumpTracks: codec_id 0 H264 / 2 AAC (src/Extension/Frame.h), codec_type 0 video / 1 audio.
        guard case .array(let tracks)? = e["tracks"] else { Issue.record("no tracks"); return }
        #expect(tracks.map { $0["codec_id"] } == [.number(0), .number(2)])
        #expect(tracks.map { $0["codec_type"] } == [.number(0), .number(1)])
        #expect(tracks[0]["width"] == .number(1280) && tracks[0]["height"] == .number(720))
        #expect(tracks[1]["sample_rate"] == .number(44_100) && tracks[1]["channels"] == .number(2))

        // Filters: schema, app, stream (empty = any); another vhost matches nothing.
        #expect(try await h.post("getMediaList", "schema=rtsp")["data"].map(count) == 1)
        #expect(try await h.post("getMediaList", "app=live&stream=cam1")["data"].map(count) == 2)
        #expect(try await h.post("getMediaList", "app=rtp")["data"].map(count) == 0)
        #expect(try await h.post("getMediaList", "vhost=other")["data"].map(count) == 0)
    }

    /// Without RTMP and HTTP-FLV listeners a stream is listed in rtsp only: platforms track
    /// streams by their rtsp registration (wvp `ZLMHttpHookListener` ignores other schemas).
    @Test func rtspEntryEvenWithoutPlayerListeners() async throws {
        let h = try await ZLMHarness.start(ports: ["admin": 9090])
        defer { Task { await h.stop() } }
        _ = try await h.publish("live/cam1")
        let reply = try await h.post("getMediaList", "")
        #expect(reply["data"].map(count) == 1)
        #expect(reply["data"]?.first?["schema"] == .string("rtsp"))
    }

    /// An RTP ingest: originType 3 "rtp_push", originUrl `rtp://__defaultVhost__/rtp/<hex>`
    /// (src/Rtp/RtpProcess.cpp `getOriginUrl`: the open-time tuple; wvp SSRCFactory takes the
    /// hex after `/rtp/`).
    @Test func rtpIngestOrigin() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.publish("rtp/05F5E101", protocolName: "gb28181", remote: "192.0.2.7:5060")
        let e = try await h.post("getMediaList", "schema=rtsp&app=rtp")["data"]?.first
        #expect(e?["originType"] == .number(3) && e?["originTypeStr"] == .string("rtp_push"))
        #expect(e?["originUrl"] == .string("rtp://__defaultVhost__/rtp/05F5E101"))
    }

    /// getMediaInfo(app, schema=rtsp, stream, vhost) (wvp isStreamReady, totalReaderCount):
    /// WA answers the media object at the top level with code 0; "can not find the stream"
    /// NotFound otherwise (wvp reads `code < 0` / `online == false`).
    @Test func getMediaInfoTopLevel() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let missing = try await h.post("getMediaInfo", "app=rtp&schema=rtsp&stream=dev_chn&vhost=__defaultVhost__")
        #expect(missing["code"] == .number(-500))
        #expect(missing["online"] == .bool(false))
        #expect(missing["app"] == nil)
        _ = try await h.publish("rtp/dev_chn", protocolName: "gb28181")
        let info = try await h.post("getMediaInfo", "app=rtp&schema=rtsp&stream=dev_chn&vhost=__defaultVhost__")
        #expect(info["code"] == .number(0) && info["online"] == .bool(true))
        #expect(info["app"] == .string("rtp") && info["stream"] == .string("dev_chn") && info["schema"] == .string("rtsp"))
        #expect(info["totalReaderCount"] == .number(0))
        #expect(info["tracks"].map(count) == 2)
        // CHECK_ARGS("schema","vhost","app","stream").
        #expect(try await h.post("getMediaInfo", "app=rtp&stream=dev_chn")["code"] == .number(-300))

        // isMediaOnline(schema, vhost, app, stream) → WA `val["online"]`.
        #expect(try await h.post("isMediaOnline", "schema=rtsp&vhost=__defaultVhost__&app=rtp&stream=dev_chn")["online"] == .bool(true))
        #expect(try await h.post("isMediaOnline", "schema=rtsp&vhost=__defaultVhost__&app=rtp&stream=x")["online"] == .bool(false))
    }

    /// close_streams(vhost, app, stream, force=1) (wvp RtpServerServiceImpl closeRTPServer):
    /// WA `{count_hit, count_closed}`, hits per schema entry.
    @Test func closeStreamsCountsAndCloses() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let source = try await h.publish("rtp/dev_chn", protocolName: "gb28181")
        let none = try await h.post("close_streams", "vhost=__defaultVhost__&app=rtp&stream=other&force=1")
        #expect(none["count_hit"] == .number(0) && none["count_closed"] == .number(0))
        let reply = try await h.post("close_streams", "vhost=__defaultVhost__&app=rtp&stream=dev_chn&force=1")
        #expect(reply["code"] == .number(0))
        #expect(reply["count_hit"] == .number(2) && reply["count_closed"] == .number(2))
        #expect(await source.isClosed)
        #expect(h.context.registry.source("rtp/dev_chn") == nil)
    }

    /// kick_session(id): WA "can not find the target" OtherFailed for an unknown id.
    @Test func kickSessionUnknown() async throws {
        let h = try await ZLMHarness.start()
        defer { Task { await h.stop() } }
        let reply = try await h.post("kick_session", "id=123456")
        #expect(reply["code"] == .number(-1))
        #expect(reply["msg"] == .string("can not find the target"))
    }
}

func count(_ value: JSONValue) -> Int {
    if case .array(let a) = value { return a.count }
    return -1
}

extension JSONValue {
    var first: JSONValue? {
        if case .array(let a) = self { return a.first }
        return nil
    }
}
