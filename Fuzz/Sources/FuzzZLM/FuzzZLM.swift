import Dispatch
import Foundation
import FuzzSupport
import Logging
import NIOPosix
import RelayCore
import RelayGB28181
@testable import RelayZLM

/// One call of the ZLMediaKit facade (`/index/api/*`) from raw bytes, as anyone who reaches the
/// HTTP port can send it: the first byte picks the route and the body's type (form or JSON),
/// then the query string and the body (split at the first 0x00). It goes through the secret
/// check, parameter parsing and every route's argument checks, against a server whose GB28181
/// module is not started (nothing binds) and whose registry is empty. The answer is always HTTP
/// 200 with a JSON object whose `code` is never -2 (a platform's "node unreachable").
@main
enum FuzzerMain: FuzzTarget {
    static let facade: ZLMFacade = {
        var config = RelayConfig.default
        config.zlm.enabled = true
        config.zlm.loopbackWithoutSecret = true
        let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
        let context = RelayContext(config: config, muxers: [], logger: logger)
        let gb = GB28181Service(context: context, group: MultiThreadedEventLoopGroup.singleton)
        return ZLMFacade(context: context, gb28181: gb, settings: ZLMSettings(config: config.zlm), ports: { ["http_flv": 8080] })
    }()
    /// getSnap would start ffmpeg per input; its parameter checks are the same helpers.
    static let routes = ZLMFacade.routeNames.filter { $0 != "getSnap" }

    static func fuzz(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let name = routes[Int(first >> 1) % routes.count]
        let parts = input.dropFirst().split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let query = String(decoding: parts.first ?? [], as: UTF8.self)
        let body = parts.count > 1 ? Array(parts[1]) : []
        let type = first & 1 == 0 ? "application/x-www-form-urlencoded" : "application/json"
        let call = HTTPCall(method: "POST", path: "/index/api/" + name, query: query, contentType: type, body: body,
                            remoteIP: "127.0.0.1")
        let done = DispatchSemaphore(value: 0)
        let answer = AnswerBox()
        Task {
            answer.set(await facade.handle(call))
            done.signal()
        }
        done.wait()
        guard let reply = answer.value else { return }
        invariant(reply.status == 200, "\(name) answered HTTP \(reply.status)")
        guard case .object(let object)? = try? JSONValue.parse(Data(reply.body)) else {
            invariant(false, "\(name) answered a body that is not a JSON object")
            return
        }
        invariant(object["code"] != nil && object["code"] != .number(-2), "\(name) answered code \(String(describing: object["code"]))")
    }
}

/// The answer, handed from the task to the fuzzer's thread.
final class AnswerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: HTTPAnswer?
    func set(_ value: HTTPAnswer) { lock.lock(); stored = value; lock.unlock() }
    var value: HTTPAnswer? { lock.lock(); defer { lock.unlock() }; return stored }
}
