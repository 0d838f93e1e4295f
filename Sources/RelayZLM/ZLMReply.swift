import Foundation
import RelayCore

/// The dialect's result codes (ZLMediaKit `server/WebApi.h` `API::ApiErr`). There is no -2 on
/// purpose: GB platforms use it for "the media node did not answer".
public enum ZLMCode: Int, Sendable {
    case success = 0
    case otherFailed = -1
    case authFailed = -100
    case invalidArgs = -300
    case exception = -400
    case notFound = -500
}

/// A refused call: its code and message, plus fields some refusals carry (`online: false`).
struct ZLMFailure: Error, Sendable {
    var code: ZLMCode
    var msg: String
    var fields: [String: JSONValue] = [:]

    init(_ code: ZLMCode, _ msg: String, fields: [String: JSONValue] = [:]) {
        self.code = code
        self.msg = msg
        self.fields = fields
    }

    static func missing(_ keys: [String]) -> ZLMFailure {
        // The dialect's wording (WebApi.h CHECK_ARGS).
        ZLMFailure(.invalidArgs, "Required parameter missed: " + keys.joined(separator: ", "))
    }
}

/// What a route answers: the fields of a JSON reply (code 0 and msg "success" are added unless
/// given), or a raw body (getSnap's JPEG).
enum ZLMResult: Sendable {
    case json([String: JSONValue])
    case raw(HTTPAnswer)
}

enum ZLMReply {
    /// HTTP 200 with `{code, msg, …fields}`, as the dialect answers every call, errors included
    /// (WebApi.cpp `responseApi`: `invoker(200, …)`).
    static func json(code: ZLMCode = .success, msg: String = "success", _ fields: [String: JSONValue] = [:]) -> HTTPAnswer {
        var body = fields
        body["code"] = .number(Double(code.rawValue))
        body["msg"] = .string(msg)
        return HTTPAnswer(status: 200, contentType: "application/json; charset=utf-8", body: encode(.object(body)))
    }

    static func failure(_ f: ZLMFailure) -> HTTPAnswer {
        json(code: f.code, msg: f.msg, f.fields)
    }

    static func answer(_ result: ZLMResult) -> HTTPAnswer {
        switch result {
        case .raw(let answer):
            return answer
        case .json(var fields):
            // A route may set its own code (pauseRtpCheck's -500); anything else is success.
            var code = ZLMCode.success
            if case .number(let n)? = fields.removeValue(forKey: "code"), let i = Int(exactly: n), let c = ZLMCode(rawValue: i) {
                code = c
            }
            var msg = "success"
            if case .string(let m)? = fields.removeValue(forKey: "msg") { msg = m }
            return json(code: code, msg: msg, fields)
        }
    }

    static func encode(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data(#"{"code":-400,"msg":"reply not encodable"}"#.utf8))
    }
}

extension JSONValue {
    /// A whole number as the dialect's replies carry it.
    static func whole(_ n: Int) -> JSONValue { .number(Double(n)) }
    static func whole(_ n: UInt64) -> JSONValue { .number(Double(n)) }
}
