import FuzzSupport
import NIOCore
import PipelineSupport
import RelayCore
@testable import RelayRTSP

/// RTSP publish pipeline: the real RTSPServerHandler (behind the listener's decoder) on a
/// ManualChannel, publishing "live/fuzz" as ffmpeg does (ANNOUNCE, SETUP mode=record over TCP
/// interleaved, RECORD), then the interleaved RTP/RTCP that follows into RTPTrackIngest, its
/// Source and players of every output; see PipelineHarness for the checks.
///
/// Input: first byte: bit 0 announces H.265+AAC instead of H.264+PCMA, bit 1 leaves the
/// parameter sets out of the SDP (in-band only); then frames `[channel][len16][bytes]` (the
/// Expander's repeat escape applies), each sent as one `$` frame. Only frames reach the
/// handler: a request would start Tasks (admission waits, UDP binds) that outlive the input.
@main
enum FuzzerMain: FuzzTarget {
    static let config = PipelineHarness.config()

    static let h264PCMA = """
        v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r
        a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z/QADZGbKCg/YCIAAAMAAgAAAwBkHihTLA==,aOvjxEhE\r
        a=control:streamid=0\r\nm=audio 0 RTP/AVP 8\r\na=control:streamid=1\r\n
        """
    static let h265AAC = """
        v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r
        a=fmtp:96 sprop-vps=QAEMAf//BAgAAAMAnggAAAMAADyVmAk=; sprop-sps=QgEBBAgAAAMAnggAAAMAADyQAUEB4ssrNJJleAtwICAAQAAAAwBAAAAGQg==; sprop-pps=RAHBcoYMRiQ=\r
        a=control:streamid=0\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r
        a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=119056E500\r
        a=control:streamid=1\r\n
        """

    static func fuzz(_ input: [UInt8]) {
        guard !input.isEmpty else { return }
        let harness = PipelineHarness(config: config, seed: input[0])
        let publisher = harness.publisherChannel(port: 554, peer: "192.0.2.8")
        try? publisher.pipeline.syncOperations.addHandler(ByteToMessageHandler(RTSPFrameDecoder(
            maxHeadBytes: config.rtsp.maxHeaderBytes, maxBodyBytes: RTSPServer.maxBodyBytes)))
        try? publisher.pipeline.syncOperations.addHandler(RTSPServerHandler(
            relay: harness.relay, ports: UDPPortAllocator(min: 40000, max: 40099)))
        publisher.activate()
        var sdp = input[0] & 1 == 0 ? h264PCMA : h265AAC
        if input[0] & 2 != 0 {
            sdp = sdp.split(separator: "\n").filter { !$0.contains("sprop") }.joined(separator: "\n") + "\n"
        }
        let url = "rtsp://127.0.0.1/live/fuzz"
        var requests = "ANNOUNCE \(url) RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\n"
            + "Content-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)"
        for track in 0..<2 {
            requests += "SETUP \(url)/streamid=\(track) RTSP/1.0\r\nCSeq: \(2 + track)\r\n"
                + "Transport: RTP/AVP/TCP;unicast;interleaved=\(2 * track)-\(2 * track + 1);mode=record\r\n\r\n"
        }
        requests += "RECORD \(url) RTSP/1.0\r\nCSeq: 4\r\n\r\n"
        publisher.receive(ByteBuffer(string: requests))
        harness.afterRead(bytes: requests.utf8.count)

        var reads = ExpandedReads(input)
        while harness.withinTimeBudget {
            let header = reads.expander.take(3)
            guard header.count == 3 else { break }
            let length = Int(header[1]) << 8 | Int(header[2])
            let payload = reads.expander.take(length)
            var frame = ByteBuffer()
            frame.writeInteger(UInt8(0x24))
            frame.writeInteger(header[0] & 0x07)  // channels 0-7: the set-up ones and a few unknown
            frame.writeInteger(UInt16(payload.count))
            frame.writeBytes(payload)
            publisher.receive(frame)
            harness.afterRead(bytes: frame.readableBytes)
            if payload.count < length { break }
        }
        harness.finish(closing: [publisher])
    }
}
