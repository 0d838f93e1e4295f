import Foundation
import RelayCore
import Testing
@testable import RelayZLM

/// How the dialect reads a call's parameters (ZLMediaKit server/WebApi.cpp `getAllArgs`, the
/// `CHECK_ARGS` macro in server/WebApi.h).
@Suite struct ZLMParamsTests {
    @Test func formBodyIsPercentDecodedAndPlusIsSpace() {
        let p = ZLMParams(query: "", contentType: "application/x-www-form-urlencoded; charset=UTF-8",
                          body: Array("secret=a%2Fb&hook.on_publish=http%3A%2F%2F10.0.0.1%3A18080%2Findex%2Fhook%2Fon_publish&x=a+b".utf8))
        #expect(p["secret"] == "a/b")
        #expect(p["hook.on_publish"] == "http://10.0.0.1:18080/index/hook/on_publish")
        #expect(p["x"] == "a b")
    }

    @Test func queryWinsOverTheBodyAsInTheDialect() {
        // getAllArgs fills the body's arguments first, then `parser.getUrlArgs()` over them.
        let p = ZLMParams(query: "stream_id=FROM_QUERY", contentType: "application/x-www-form-urlencoded",
                          body: Array("stream_id=FROM_BODY&port=0".utf8))
        #expect(p["stream_id"] == "FROM_QUERY")
        #expect(p["port"] == "0")
    }

    @Test func keysAreCaseInsensitiveAndEmptyMeansAbsent() throws {
        let p = ZLMParams(query: "Stream_ID=abc&ssrc=", contentType: nil, body: [])
        #expect(p["stream_id"] == "abc")
        #expect(p["ssrc"] == nil)
        #expect(throws: ZLMFailure.self) { try p.require("stream_id", "ssrc") }
        do {
            try p.require("stream_id", "ssrc", "port")
        } catch {
            #expect(error.code == .invalidArgs)
            #expect(error.msg == "Required parameter missed: ssrc, port")
        }
    }

    @Test func jsonBodyValuesAreStringified() {
        let body = #"{"secret":"s","port":0,"tcp_mode":2,"re_use_port":false,"ratio":1.5,"nested":{"a":1},"list":[1],"none":null}"#
        let p = ZLMParams(query: "", contentType: "application/json", body: Array(body.utf8))
        #expect(p.bodyError == nil)
        #expect(p["secret"] == "s")
        #expect(p["port"] == "0")
        #expect(p["tcp_mode"] == "2")
        #expect(p["re_use_port"] == "0")
        #expect(p["ratio"] == "1.5")
        #expect(p["nested"] == nil && p["list"] == nil && p["none"] == nil)
    }

    @Test func malformedBodiesAreReportedNotTrapped() {
        for body in ["{", "[1,2]", "\"text\"", "{\"a\":", String(repeating: "[", count: 65_000), "{\"a\":" + String(repeating: "{\"a\":", count: 13_000)] {
            let p = ZLMParams(query: "secret=s", contentType: "application/json", body: Array(body.utf8))
            #expect(p.bodyError != nil, "\(body.prefix(20))")
            #expect(p["secret"] == "s")
        }
        // Invalid UTF-8 and stray percent signs in a form body.
        let p = ZLMParams(query: "", contentType: "application/x-www-form-urlencoded", body: [0x61, 0x3D, 0xFF, 0xFE, 0x25, 0x26, 0x62, 0x3D, 0x25, 0x7A, 0x7A])
        #expect(p["a"] != nil)
        #expect(p["b"] == "%zz")
        // Another content type's body is not read (the dialect logs and ignores it).
        #expect(ZLMParams(query: "", contentType: "text/plain", body: Array("port=1".utf8))["port"] == nil)
    }

    @Test func numbersAreBoundedNeverTrapping() throws {
        let p = ZLMParams(["big": "99999999999999999999999", "neg": "-1", "port": "65536", "ok": " 42 ", "hex": "0x10",
                           "ssrc": "4294967296", "ssrc0": "0", "ssrcMax": "4294967295", "ssrcSigned": "-5"])
        #expect(throws: ZLMFailure.self) { try p.int("big", in: 0...10, default: 0) }
        #expect(throws: ZLMFailure.self) { try p.int("neg", in: 0...10, default: 0) }
        #expect(throws: ZLMFailure.self) { try p.port("port") }
        #expect(throws: ZLMFailure.self) { try p.int("hex", in: 0...100, default: 0) }
        #expect(try p.int("ok", in: 0...100, default: 0) == 42)
        #expect(try p.int("absent", in: 0...100, default: 7) == 7)
        #expect(throws: ZLMFailure.self) { try p.ssrc("ssrc") }
        #expect(throws: ZLMFailure.self) { try p.ssrc("ssrcSigned") }
        #expect(try p.ssrc("ssrc0") == nil)
        #expect(try p.ssrc("ssrcMax") == UInt32.max)
        #expect(ZLMParams.integer(String(repeating: "9", count: 19)) == nil)
        #expect(ZLMParams.integer("-") == nil)
    }

    @Test func booleansInTheSpellingsPlatformsSend() throws {
        let p = ZLMParams(["a": "1", "b": "0", "c": "true", "d": "false", "e": "maybe"])
        #expect(try p.bool("a") && !p.bool("b") && p.bool("c") && !p.bool("d"))
        #expect(try !p.bool("absent") && p.bool("absent", default: true))
        #expect(throws: ZLMFailure.self) { try p.bool("e") }
    }
}
