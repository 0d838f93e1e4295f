import NIOCore
import RelayFLV
import RelayRTMP

/// An RTMP publisher made of raw bytes, for hostile-input tests: handshake, connect,
/// createStream, publish, then whatever messages a test builds.
struct RawRTMPPublisher {
    struct Failed: Error, CustomStringConvertible {
        var what: String
        var description: String { what }
    }

    let connection: RawConnection

    /// Connects and publishes `app/stream`; returns once the server answered Publish.Start.
    static func publish(port: Int, app: String, stream: String) async throws -> RawRTMPPublisher {
        let conn = try await BadInputTests.handshaken(port: port)
        var out = ByteBuffer()
        command(["connect", 1, .object([.init("app", .string(app)), .init("tcUrl", .string("rtmp://127.0.0.1/\(app)"))])],
                streamID: 0, into: &out)
        command(["createStream", 2, .null], streamID: 0, into: &out)
        command(["publish", 3, .null, .string(stream), "live"], streamID: 1, into: &out)
        try await conn.send(out)
        let deadline = NIODeadline.now() + .seconds(5)
        while NIODeadline.now() < deadline {
            if String(decoding: conn.received.readableBytesView, as: UTF8.self).contains("NetStream.Publish.Start") {
                return RawRTMPPublisher(connection: conn)
            }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        throw Failed(what: "no NetStream.Publish.Start for \(app)/\(stream)")
    }

    static func command(_ values: [AMF0Value], streamID: UInt32, into buffer: inout ByteBuffer) {
        var payload = ByteBuffer()
        AMF0Value.encode(values, into: &payload)
        RTMPChunkEncoder.write(RTMPMessage(chunkStreamID: 3, timestamp: 0, typeID: 20, messageStreamID: streamID,
                                           payload: payload), chunkSize: 128, into: &buffer)
    }

    /// An audio message (type 8) on message stream 1.
    static func audio(timestamp: UInt32, body: [UInt8], into buffer: inout ByteBuffer) {
        media(typeID: 8, chunkStreamID: 4, timestamp: timestamp, body: body, into: &buffer)
    }

    static func audio(timestamp: UInt32, body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        audio(timestamp: timestamp, body: body, into: &buffer)
        return buffer
    }

    /// A video message (type 9) on message stream 1.
    static func video(timestamp: UInt32, body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        media(typeID: 9, chunkStreamID: 6, timestamp: timestamp, body: body, into: &buffer)
        return buffer
    }

    private static func media(typeID: UInt8, chunkStreamID: UInt32, timestamp: UInt32, body: [UInt8],
                              into buffer: inout ByteBuffer) {
        // 128 is the chunk size until a Set Chunk Size; this peer never sends one.
        RTMPChunkEncoder.write(RTMPMessage(chunkStreamID: chunkStreamID, timestamp: timestamp, typeID: typeID,
                                           messageStreamID: 1, payload: ByteBuffer(bytes: body)),
                               chunkSize: 128, into: &buffer)
    }

    func send(_ buffer: ByteBuffer) async throws { try await connection.send(buffer) }
    var isClosed: Bool { connection.isClosed }
    func waitClosed(seconds: Double) async -> Bool { await connection.waitClosed(seconds: seconds) }
    func close() async { await connection.close() }
}

/// An RTSP player made of raw requests (DESCRIBE, SETUP interleaved on 0-1, PLAY over TCP) that
/// keeps every byte it receives, so a test can read the RTP packets back.
struct RawRTSPPlayer {
    let connection: RawConnection

    static func play(port: Int, stream: String) async throws -> RawRTSPPlayer {
        let conn = try await RawConnection.connect(port: port)
        let url = "rtsp://127.0.0.1:\(port)/\(stream)"
        let describe = try await request(conn, "DESCRIBE \(url) RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n",
                                         after: 0)
        guard let control = describe.text.split(separator: "\r\n").first(where: { $0.hasPrefix("a=control:") && !$0.hasSuffix("*") })
        else { throw RawRTMPPublisher.Failed(what: "no track control in the SDP: \(describe.text)") }
        var track = String(control.dropFirst("a=control:".count))
        if !track.hasPrefix("rtsp://") { track = url + "/" + track }
        let setup = try await request(conn, "SETUP \(track) RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
                                      after: describe.end)
        guard let sessionLine = setup.text.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("session:") })
        else { throw RawRTMPPublisher.Failed(what: "no Session in the SETUP answer: \(setup.text)") }
        let session = sessionLine.dropFirst("session:".count).split(separator: ";")[0].trimmingCharacters(in: .whitespaces)
        _ = try await request(conn, "PLAY \(url) RTSP/1.0\r\nCSeq: 3\r\nSession: \(session)\r\n\r\n", after: setup.end)
        return RawRTSPPlayer(connection: conn)
    }

    /// Sends a request and waits for the whole answer that starts at byte `after` of the input.
    private static func request(_ conn: RawConnection, _ text: String, after: Int) async throws -> (text: String, end: Int) {
        try await conn.send(Array(text.utf8))
        let deadline = NIODeadline.now() + .seconds(5)
        while NIODeadline.now() < deadline {
            let bytes = Array(conn.received.readableBytesView.dropFirst(after))
            let all = String(decoding: bytes, as: UTF8.self)
            if let head = all.range(of: "\r\n\r\n") {
                let headText = all[..<head.lowerBound]
                let length = headText.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                let headBytes = all[..<head.upperBound].utf8.count
                if bytes.count >= headBytes + length {
                    return (String(decoding: bytes.prefix(headBytes + length), as: UTF8.self), after + headBytes + length)
                }
            }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        throw RawRTMPPublisher.Failed(what: "no RTSP answer to \(text.prefix(20))")
    }

    var received: ByteBuffer { connection.received }
    var isClosed: Bool { connection.isClosed }
    func close() async { await connection.close() }

    /// RTP timestamps of the interleaved packets on `channel`, in order (RTSP answers skipped).
    static func rtpTimestamps(in buffer: ByteBuffer, channel: UInt8) -> [UInt32] {
        var buffer = buffer
        var times: [UInt32] = []
        while buffer.readableBytes >= 4 {
            guard buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0x24 else {
                buffer.moveReaderIndex(forwardBy: 1)  // answer text before the first frame
                continue
            }
            guard let ch = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self),
                  let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self),
                  buffer.readableBytes >= 4 + Int(length) else { break }
            if ch == channel, length >= 12, let ts = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt32.self) {
                times.append(ts)
            }
            buffer.moveReaderIndex(forwardBy: 4 + Int(length))
        }
        return times
    }
}
