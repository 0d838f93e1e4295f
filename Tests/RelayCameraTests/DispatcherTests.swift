import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCamera
import RelayCore
import RelayRTMP
import Testing

/// Records what it got, on the context its delivery names.
final class RecordingConsumer: FrameConsumer {
    let name: String
    let delivery: FrameDelivery
    let seen = NIOLockedValueBox<[Int]>([])
    let storage = NIOLockedValueBox<[ObjectIdentifier]>([])
    let finished = NIOLockedValueBox(false)
    /// While set, `consume` blocks (a stuck disk).
    let gate: DispatchSemaphore?
    /// Signalled when `consume` is entered.
    let entered = DispatchSemaphore(value: 0)

    init(name: String, delivery: FrameDelivery, gate: DispatchSemaphore? = nil) {
        self.name = name
        self.delivery = delivery
        self.gate = gate
    }

    func consume(_ frame: CameraFrame) {
        entered.signal()
        gate?.wait()
        gate?.signal()
        seen.withLockedValue { $0.append(frame.sequence) }
    }

    func finish() { finished.withLockedValue { $0 = true } }
}

@Suite(.serialized)
struct DispatcherTests {
    static let track = CameraTrack(stream: AVStream(index: 0, codec: .h264, timebase: 1000), generation: 1)

    static func frame(_ n: Int, payload: ByteBuffer) -> CameraFrame {
        CameraFrame(sequence: n, packet: AVPacket(streamIndex: 0, codec: .h264, dts: Int64(n * 40), pts: Int64(n * 40),
                                                  isKeyFrame: n % 25 == 0, payload: payload),
                    track: track, captureMicros: CaptureStamp.nowMicros())
    }

    @Test func blockedQueuedConsumerDropsOldestWhileOthersSeeEveryFrame() async throws {
        let dispatcher = FrameDispatcher()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let direct = RecordingConsumer(name: "direct", delivery: .direct)
        let network = RecordingConsumer(name: "network", delivery: .eventLoop(group.next()))
        let gate = DispatchSemaphore(value: 0)  // closed: the queued consumer blocks on its first frame
        let disk = RecordingConsumer(name: "disk", delivery: .queued(capacity: 8), gate: gate)
        dispatcher.register(direct)
        dispatcher.register(network)
        dispatcher.register(disk)

        let payload = ByteBuffer(repeating: 0xAB, count: 50_000)
        dispatcher.dispatch(Self.frame(0, payload: payload))
        #expect(disk.entered.wait(timeout: .now() + 5) == .success)  // frame 0 is stuck in the consumer
        let start = Date()
        for n in 1..<500 { dispatcher.dispatch(Self.frame(n, payload: payload)) }
        let elapsed = Date().timeIntervalSince(start)
        // The fetch loop was not held up by the stuck consumer.
        #expect(elapsed < 1.0, "dispatching 500 frames took \(elapsed) s")
        #expect(direct.seen.withLockedValue { $0 } == Array(0..<500))

        try await Task.sleep(nanoseconds: 100_000_000)
        let stats = Dictionary(uniqueKeysWithValues: dispatcher.stats.map { ($0.name, $0) })
        let queued = try #require(stats["disk"])
        // One frame is inside the blocked consume, 8 wait, all the others were dropped (oldest first).
        #expect(queued.queued == 8)
        #expect(queued.dropped == 500 - 8 - 1)
        #expect(queued.maxQueued == 8)
        #expect(stats["direct"]?.delivered == 500)

        gate.signal()  // the disk comes back
        await dispatcher.finish(timeout: 5)
        #expect(network.seen.withLockedValue { $0 } == Array(0..<500))
        // The queued consumer got the first frame and then the newest 8, in order.
        #expect(disk.seen.withLockedValue { $0 } == [0] + Array(492..<500))
        #expect(dispatcher.stats.first { $0.name == "disk" }?.delivered == 9)
        #expect(direct.finished.withLockedValue { $0 } && network.finished.withLockedValue { $0 }
            && disk.finished.withLockedValue { $0 })
        try await group.shutdownGracefully()
    }

    @Test func framesShareOnePayloadStorage() async throws {
        // Every consumer sees the same storage: the payload is never copied per consumer.
        final class StorageProbe: FrameConsumer {
            let name: String
            let delivery: FrameDelivery
            let pointers = NIOLockedValueBox<[UInt]>([])
            init(_ name: String, _ delivery: FrameDelivery) { self.name = name; self.delivery = delivery }
            func consume(_ frame: CameraFrame) {
                let p = frame.packet.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
                pointers.withLockedValue { $0.append(p) }
            }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let dispatcher = FrameDispatcher()
        let probes = [StorageProbe("a", .direct), StorageProbe("b", .eventLoop(group.next())),
                      StorageProbe("c", .queued(capacity: 4))]
        probes.forEach(dispatcher.register)
        let payload = ByteBuffer(repeating: 1, count: 1000)
        let expected = payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        dispatcher.dispatch(Self.frame(0, payload: payload))
        await dispatcher.finish()
        for probe in probes { #expect(probe.pointers.withLockedValue { $0 } == [expected], "\(probe.name)") }
        try await group.shutdownGracefully()
    }

    @Test(arguments: [128, 4096])
    func chunkWriterPiecesDecodeToTheMessage(chunkSize: Int) throws {
        for (timestamp, bodySize) in [(UInt32(40), 10_000), (0x0100_0000, 9000), (0, 0), (7, 4096 - 5)] {
            let body = ByteBuffer(bytes: (0..<bodySize).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            let prefix = ByteBuffer(bytes: [0x17, 1, 0, 0, 0])
            var wire = ByteBuffer()
            var pieces = 0
            let written = RTMPChunkEncoder.write(chunkStreamID: 6, timestamp: timestamp, typeID: 9, messageStreamID: 1,
                                                 prefix: prefix, body: body, chunkSize: chunkSize,
                                                 allocator: ByteBufferAllocator()) { piece in
                pieces += 1
                wire.writeImmutableBuffer(piece)
            }
            #expect(written == wire.readableBytes)
            // Same bytes as the relay's own (copying) encoder.
            var reference = ByteBuffer()
            RTMPChunkEncoder.write(chunkStreamID: 6, timestamp: timestamp, typeID: 9, messageStreamID: 1,
                                   prefix: prefix, body: body, chunkSize: chunkSize, into: &reference)
            #expect(wire == reference, "ts \(timestamp) size \(bodySize)")
            var decoder = RTMPChunkDecoder()
            var setSize = ByteBuffer()
            RTMPChunkEncoder.write(.setChunkSize(chunkSize), chunkSize: 128, into: &setSize)
            _ = try decoder.next(from: &setSize)
            let message = try #require(try decoder.next(from: &wire))
            #expect(message.timestamp == timestamp && message.typeID == 9 && message.messageStreamID == 1)
            var expected = prefix
            expected.writeImmutableBuffer(body)
            #expect(message.payload == expected)
        }
    }
}
