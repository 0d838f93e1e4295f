import Foundation
import RelayCore
@testable import RelayGB28181
import Testing

/// The body of `POST /api/v1/gb28181/receivers` and the statuses of GB28181 errors (the
/// endpoints themselves: InteropTests' AdminTests).
@Suite struct GBAdminTests {
    func open(_ json: String) throws -> GB28181Service.OpenRequest {
        guard case .object(let o) = try JSONValue.parse(Data(json.utf8)) else { throw AdminFailure.badRequest("not an object") }
        return try GB28181Service.OpenRequest(o)
    }

    func openError(_ json: String) -> String? {
        do { _ = try open(json); return nil } catch let e as AdminFailure { return e.message } catch { return "\(error)" }
    }

    @Test func receiverRequestDefaults() throws {
        let shared = try open(#"{"stream": "gb/a", "ssrc": "0100000001"}"#)
        #expect(shared.port == .shared && shared.mode == .udp && shared.ssrc == 100_000_001)
        let own = try open(#"{"stream": "gb/a"}"#)
        #expect(own.port == .fromRange && own.ssrc == nil)
        let fixed = try open(#"{"stream": "gb/a", "mode": "tcp-passive", "port": 40123}"#)
        #expect(fixed.port == .fixed(40123) && fixed.mode == .tcpPassive)
        let active = try open(#"{"stream": "gb/a", "mode": "tcp-active", "device": "192.0.2.7:5060"}"#)
        #expect(active.mode == .tcpActive && active.device == "192.0.2.7:5060")
        #expect(try open(#"{"stream": "gb/a", "mode": "tcp-active", "device": "[2001:db8::1]:15060"}"#).device == "[2001:db8::1]:15060")
        #expect(try open(#"{"stream": "gb/a", "ssrc": "4294967295", "port": "auto"}"#).ssrc == UInt32.max)
    }

    @Test func receiverRequestErrorsSayWhat() throws {
        #expect(openError(#"{}"#)?.contains("'stream' is required") == true)
        #expect(openError(#"{"stream": "a//b"}"#)?.contains("not a valid stream id") == true)
        #expect(openError(#"{"stream": "gb/a", "ssrc": "4294967296"}"#)?.contains("invalid SSRC") == true)
        #expect(openError(#"{"stream": "gb/a", "ssrc": 7}"#)?.contains("'ssrc' must be a string") == true)
        #expect(openError(#"{"stream": "gb/a", "mode": "sctp"}"#)?.contains("'mode' must be") == true)
        #expect(openError(#"{"stream": "gb/a", "port": 0}"#)?.contains("'port' must be") == true)
        #expect(openError(#"{"stream": "gb/a", "port": 1.5}"#)?.contains("'port' must be") == true)
        #expect(openError(#"{"stream": "gb/a", "port": "shared"}"#)?.contains("needs an 'ssrc'") == true)
        // tcp-active without a device is fine: PUT {"device"} names it later.
        #expect(openError(#"{"stream": "gb/a", "mode": "tcp-active"}"#) == nil)
        // tcp-active `port`: the local port to dial from (absent: any).
        #expect(try open(#"{"stream": "gb/a", "mode": "tcp-active"}"#).port == .shared)
        #expect(try open(#"{"stream": "gb/a", "mode": "tcp-active", "port": "auto"}"#).port == .fromRange)
        #expect(try open(#"{"stream": "gb/a", "mode": "tcp-active", "port": 40001}"#).port == .fixed(40001))
        #expect(openError(#"{"stream": "gb/a", "mode": "tcp-active", "port": "shared"}"#)?.contains("local port to dial from") == true)
        #expect(openError(#"{"stream": "gb/a", "mode": "tcp-active", "device": "host"}"#)?.contains("host:port") == true)
        #expect(openError(#"{"stream": "gb/a", "mode": "tcp-active", "device": "host:0"}"#)?.contains("host:port") == true)
        #expect(openError(#"{"stream": "gb/a", "device": "host:1"}"#)?.contains("only for tcp-active") == true)
        #expect(openError(#"{"stream": "gb/a", "extra": 1}"#)?.contains("unknown field 'extra'") == true)
    }

    @Test func gbErrorsMapToStatuses() {
        #expect(GB28181Service.status(.duplicateStream("a")) == 409)
        #expect(GB28181Service.status(.streamPublished("a", holder: "rtmp 127.0.0.1:5000")) == 409)
        #expect(GB28181Service.status(.duplicateSSRC("1")) == 409)
        #expect(GB28181Service.status(.bindFailed(1, "in use")) == 409)
        #expect(GB28181Service.status(.invalidDeviceAddress("x")) == 400)
        #expect(GB28181Service.status(.disabled) == 409)
        #expect(GB28181Service.status(.noReceiver("a")) == 404)
        #expect(GB28181Service.status(.notTCPActive("a")) == 409)
        #expect(GB28181Service.status(.receiving("a", from: "127.0.0.1:9")) == 409)
        #expect(GB28181Service.status(.invalidPortRange("x")) == 400)
    }

    func update(_ json: String) throws -> GB28181Service.UpdateRequest {
        guard case .object(let o) = try JSONValue.parse(Data(json.utf8)) else { throw AdminFailure.badRequest("not an object") }
        return try GB28181Service.UpdateRequest(o)
    }

    func updateError(_ json: String) -> String? {
        do { _ = try update(json); return nil } catch let e as AdminFailure { return e.message } catch { return "\(error)" }
    }

    /// The body of `PUT /api/v1/gb28181/receivers/{stream}`: any of ssrc, device, check_paused.
    @Test func receiverUpdateRequest() throws {
        let all = try update(#"{"ssrc": "0100000002", "device": "192.0.2.7:5060", "check_paused": true}"#)
        #expect(all.ssrc == 100_000_002 && all.device == "192.0.2.7:5060" && all.checkPaused == true)
        let resume = try update(#"{"check_paused": false}"#)
        #expect(resume.ssrc == nil && resume.device == nil && resume.checkPaused == false)
        #expect(updateError(#"{}"#)?.contains("give any of 'ssrc', 'device'") == true)
        #expect(updateError(#"{"stream": "gb/a"}"#)?.contains("unknown field 'stream'") == true)
        #expect(updateError(#"{"ssrc": "x"}"#)?.contains("invalid SSRC") == true)
        #expect(updateError(#"{"device": "host"}"#)?.contains("host:port") == true)
        #expect(updateError(#"{"device": 5060}"#)?.contains("'device' must be") == true)
        #expect(updateError(#"{"check_paused": "yes"}"#)?.contains("'check_paused' must be true or false") == true)
    }
}
