import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayCore
@testable import RelayGB28181
import Testing

/// What a GB28181 platform changes on an open receiver (issue 20): the SSRC, the tcp-active
/// device, paused no-media checks, the receiver timeout, the port range, and the published name
/// the receiver also answers to.
@Suite(.serialized)
struct GBReceiverSeamsTests {
    /// Not GBServiceTests' range: the suites run side by side.
    static let ports = 47200...47299
    /// A new SSRC is refused while another receiver expects it; sessions after the change expect
    /// the new one (the old one is an unknown SSRC now); unknown names are refused.
    @Test func updateSSRCChangesWhatNewSessionsExpect() async throws {
        let h = try await Harness.start(ports: Self.ports)
        let gb = h.service
        _ = try await gb.open(streamID: "gb/ssrc", ssrc: 100_000_101, mode: .udp)
        _ = try await gb.open(streamID: "gb/other", ssrc: 100_000_102, mode: .udp)
        #expect(throws: GBError.duplicateSSRC("0100000102")) { try gb.updateSSRC(streamID: "gb/ssrc", ssrc: 100_000_102) }
        #expect(throws: GBError.noReceiver("gb/none")) { try gb.updateSSRC(streamID: "gb/none", ssrc: 100_000_109) }
        try gb.updateSSRC(streamID: "gb/ssrc", ssrc: 100_000_103)
        #expect(gb.receiver("gb/ssrc")?.ssrc == 100_000_103 && gb.receiver("gb/ssrc")?.info.ssrcString == "0100000103")
        let client = try await UDPClient.make(port: try #require(gb.sharedUDPPort))
        var old = Device(ssrc: 100_000_101)
        try await paced(5) { try await client.send(old.next()) }
        #expect(await h.waitFor(1) { h.lines.contains("unknown SSRC 0100000101") })
        #expect(h.context.registry.source("gb/ssrc") == nil)
        var new = Device(ssrc: 100_000_103)
        try await paced(10) { try await client.send(new.next()) }
        #expect(await h.waitFor { await h.playable("gb/ssrc") })
        // A live session goes on when the SSRC changes again (only later sessions expect it).
        let source = try #require(h.context.registry.source("gb/ssrc"))
        try gb.updateSSRC(streamID: "gb/ssrc", ssrc: 100_000_104)
        let before = try #require(gb.receiver("gb/ssrc")).info.packets
        try await paced(5) { try await client.send(new.next()) }
        #expect(await h.waitFor { (gb.receiver("gb/ssrc")?.info.packets ?? 0) > before })
        #expect(h.context.registry.source("gb/ssrc") === source)
        await client.close()
        await gb.stop()
    }

    /// tcp-active opened without the device waits (nothing to dial); `connect` names it, a new
    /// address replaces one that does not answer, and media flows from the second.
    @Test func tcpActiveWaitsForConnectAndRedialsANewAddress() async throws {
        let h = try await Harness.start(ports: Self.ports)
        let gb = h.service
        let r = try await gb.open(streamID: "gb/later", ssrc: 100_000_111, mode: .tcpActive)
        #expect(r.info.port == nil && r.info.state == .waiting && r.info.deviceHost == nil)
        _ = try await gb.open(streamID: "gb/udp", ssrc: 100_000_112, mode: .udp)
        await #expect(throws: GBError.notTCPActive("gb/udp")) { try await gb.connect(streamID: "gb/udp", device: "127.0.0.1:9") }
        await #expect(throws: GBError.invalidDeviceAddress("127.0.0.1")) { try await gb.connect(streamID: "gb/later", device: "127.0.0.1") }
        await #expect(throws: GBError.noReceiver("gb/none")) { try await gb.connect(streamID: "gb/none", device: "127.0.0.1:9") }

        // First a device address where nobody listens: the server retries there…
        let dead = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let deadPort = try #require(dead.localAddress?.port)
        try await dead.close()
        try await gb.connect(streamID: "gb/later", device: "127.0.0.1:\(deadPort)")
        #expect(r.info.port == deadPort && r.info.deviceHost == "127.0.0.1")
        try await Task.sleep(nanoseconds: 300_000_000)
        // …until the platform names the device that answered.
        let accepted = NIOLockedValueBox<[any Channel]>([])
        let device = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { ch in
                accepted.withLockedValue { $0.append(ch) }
                return ch.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(device.localAddress?.port)
        try await gb.connect(streamID: "gb/later", device: "127.0.0.1:\(port)")
        #expect(r.info.port == port)
        #expect(await h.waitFor { accepted.withLockedValue { $0.count } == 1 })
        let conn = try #require(accepted.withLockedValue { $0.first })
        var d = Device(ssrc: 100_000_111)
        try await paced(10) { try await conn.writeAndFlush(d.framed()) }
        #expect(await h.waitFor { await h.playable("gb/later") })
        // Receiving: the same address again is nothing new; another is refused.
        try await gb.connect(streamID: "gb/later", device: "127.0.0.1:\(port)")
        await #expect(throws: GBError.self) { try await gb.connect(streamID: "gb/later", device: "127.0.0.1:\(deadPort)") }
        #expect(accepted.withLockedValue { $0.count } == 1, "one connection to the device")
        await gb.stop()
        try? await conn.close()
        try await device.close()
    }

    /// tcp-active with a local port (a platform announces it in its SDP): the server dials the
    /// device from it; a fixed port another receiver holds is refused.
    @Test func tcpActiveDialsFromItsLocalPort() async throws {
        let h = try await Harness.start(ports: Self.ports)
        let gb = h.service
        let r = try await gb.open(streamID: "gb/from", ssrc: 100_000_151, mode: .tcpActive, port: .fromRange)
        let local = try #require(r.info.localPort)
        #expect((47200...47299).contains(local) && r.info.port == nil)
        await #expect(throws: GBError.bindFailed(local, "receiver gb/from uses it")) {
            _ = try await gb.open(streamID: "gb/same", ssrc: 100_000_152, mode: .tcpPassive, port: .fixed(local))
        }
        let peers = NIOLockedValueBox<[Int]>([])
        let device = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { ch in
                peers.withLockedValue { $0.append(ch.remoteAddress?.port ?? 0) }
                return ch.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        try await gb.connect(streamID: "gb/from", device: "127.0.0.1:\(device.localAddress?.port ?? 0)")
        #expect(await h.waitFor { peers.withLockedValue { $0 } == [local] }, "dialed from \(peers.withLockedValue { $0 })")
        await gb.stop()
        try await device.close()
    }

    /// `receiver_timeout_ms`: an API receiver without media closes (its port is free again), a
    /// check-paused one waits, one receiving media and a configured one stay.
    @Test func receiverTimeoutClosesIdleAPIReceiversUnlessPaused() async throws {
        let h = try await Harness.start(#", "receiver_timeout_ms": 400, "receivers": [{"stream": "gb/conf", "ssrc": "0100000129"}]"#, ports: Self.ports)
        let gb = h.service
        let idle = try await gb.open(streamID: "gb/idle", ssrc: nil, mode: .udp, port: .fromRange)
        let idlePort = try #require(idle.info.port)
        _ = try await gb.open(streamID: "gb/paused", ssrc: 100_000_122, mode: .udp)
        try gb.setCheckPaused(streamID: "gb/paused", true)
        #expect(gb.receiver("gb/paused")?.info.checkPaused == true)
        _ = try await gb.open(streamID: "gb/live", ssrc: 100_000_123, mode: .udp)
        let client = try await UDPClient.make(port: try #require(gb.sharedUDPPort))
        var d = Device(ssrc: 100_000_123)
        try await paced(40, everyMs: 20) { try await client.send(d.next()) }
        #expect(gb.receiver("gb/idle") == nil && idle.isClosed)
        #expect(h.lines.contains("gb28181 receiver gb/idle closed: no media within 400 ms"))
        let again = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: idlePort).get()
        try await again.close()
        #expect(gb.receiver("gb/paused") != nil && gb.receiver("gb/live") != nil && gb.receiver("gb/conf") != nil)
        // Resumed, the paused one gets a whole timeout again, then closes.
        try gb.setCheckPaused(streamID: "gb/paused", false)
        try await Task.sleep(nanoseconds: 250_000_000)
        #expect(gb.receiver("gb/paused") != nil)
        #expect(await h.waitFor(2) { gb.receiver("gb/paused") == nil })
        #expect(gb.receiver("gb/conf") != nil, "configured receivers have no receiver timeout")
        await client.close()
        await gb.stop()
    }

    /// Paused checks stop the live source's receive timeout; a session that starts while paused
    /// starts paused; resuming restarts the timeout.
    @Test func checkPausedHoldsTheSourceReceiveTimeout() async throws {
        let h = try await Harness.start(source: #", "receive_timeout_ms": 400"#, ports: Self.ports)
        let gb = h.service
        _ = try await gb.open(streamID: "gb/live", ssrc: 100_000_131, mode: .udp)
        _ = try await gb.open(streamID: "gb/early", ssrc: 100_000_132, mode: .udp)
        try gb.setCheckPaused(streamID: "gb/early", true)
        let client = try await UDPClient.make(port: try #require(gb.sharedUDPPort))
        var live = Device(ssrc: 100_000_131)
        var early = Device(ssrc: 100_000_132)
        try await paced(10) { try await client.send(live.next() + early.next()) }
        #expect(await h.waitFor { await h.playable("gb/live") && h.context.registry.source("gb/early") != nil })
        try gb.setCheckPaused(streamID: "gb/live", true)
        // Silence well past the receive timeout: both stay.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        #expect(h.context.registry.source("gb/live") != nil && h.context.registry.source("gb/early") != nil)
        #expect(gb.receiver("gb/live")?.info.state == .receiving)
        try gb.setCheckPaused(streamID: "gb/live", false)
        #expect(await h.waitFor(3) { h.context.registry.source("gb/live") == nil })
        #expect(h.context.registry.source("gb/early") != nil, "still paused")
        try gb.setCheckPaused(streamID: "gb/early", false)
        #expect(await h.waitFor(3) { h.context.registry.source("gb/early") == nil })
        await client.close()
        await gb.stop()
    }

    /// The port range changes at run time; bad ranges are refused.
    @Test func portRangeChangesAtRunTime() async throws {
        let h = try await Harness.start(ports: Self.ports)
        let gb = h.service
        #expect(gb.portRange == 47200...47299)
        try gb.setPortRange(47250...47250)
        #expect(gb.portRange == 47250...47250)
        let one = try await gb.open(streamID: "gb/one", ssrc: nil, mode: .udp, port: .fromRange)
        #expect(one.info.port == 47250)
        // Taken by gb/one (UDP sockets share a port under SO_REUSEADDR: the receivers' own check refuses it).
        await #expect(throws: GBError.noFreePort(min: 47250, max: 47250)) {
            _ = try await gb.open(streamID: "gb/two", ssrc: nil, mode: .udp, port: .fromRange)
        }
        await #expect(throws: GBError.bindFailed(47250, "receiver gb/one uses it")) {
            _ = try await gb.open(streamID: "gb/two", ssrc: nil, mode: .udp, port: .fixed(47250))
        }
        #expect(throws: GBError.self) { try gb.setPortRange(0...10) }
        #expect(throws: GBError.self) { try gb.setPortRange(60000...70000) }
        #expect(throws: GBError.invalidPortRange("47299 is above 47200")) { try gb.setPortRange(min: 47299, max: 47200) }
        try gb.setPortRange(min: 47251, max: 47252)
        let two = try await gb.open(streamID: "gb/two", ssrc: nil, mode: .tcpPassive, port: .fromRange)
        #expect((47251...47252).contains(two.info.port ?? 0))
        await gb.stop()
    }

    /// A receiver answers to the name its stream was published under (set here as the
    /// on_publish rename would): lookup, SSRC update, pause and close by that name.
    @Test func aReceiverAnswersToItsPublishedName() async throws {
        let h = try await Harness.start(ports: Self.ports)
        let gb = h.service
        let r = try await gb.open(streamID: "rtp/05F5E141", ssrc: 100_000_141, mode: .udp)
        #expect(gb.receiver(named: "34020000001320000001_34020000001310000001") == nil)
        r.setPublishedAs("34020000001320000001_34020000001310000001")
        let alias = "34020000001320000001_34020000001310000001"
        #expect(gb.receiver(named: alias) === r && gb.receiver(named: "rtp/05F5E141") === r)
        #expect(gb.receiver(alias) == nil, "receiver(_:) is by id only")
        #expect(r.info.publishedAs == alias)
        try gb.updateSSRC(streamID: alias, ssrc: 100_000_142)
        try gb.setCheckPaused(streamID: alias, true)
        #expect(r.info.ssrc == 100_000_142 && r.info.checkPaused)
        #expect(await gb.close(streamID: alias))
        #expect(gb.list().isEmpty && r.isClosed)
        await gb.stop()
    }

    @Test func receiverTimeoutConfig() throws {
        #expect(GB28181Config.defaults.receiverTimeoutMs == 0)
        let c = try RelayConfig.parse(Data(#"{"gb28181": {"receiver_timeout_ms": 15000}}"#.utf8), sections: [GB28181Config.self])
        #expect(c.gb28181.receiverTimeoutMs == 15000)
        #expect(throws: ConfigError.self) {
            try RelayConfig.parse(Data(#"{"gb28181": {"receiver_timeout_ms": 3600001}}"#.utf8), sections: [GB28181Config.self])
        }
    }
}
