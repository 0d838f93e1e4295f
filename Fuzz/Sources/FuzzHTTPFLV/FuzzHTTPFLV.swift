import FuzzSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RelayCore

/// The HTTP-FLV listener's pipeline up to our handler: RequestHeadGuard (head size bound) and
/// NIOHTTP1's decoder as HTTPFLVServer installs them, in arbitrary reads; then what
/// HTTPFLVHandler does with the head before it looks a stream up: method check, the query
/// split (params travel to hooks), the `/app/stream.flv` path and the stream id check.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        let maxHead = 4096
        let channel = requestChannel(
            protocolName: "flv", maxHead: maxHead,
            tooLargeResponse: "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            decoder: HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes))
        feed(channel, input, as: HTTPServerRequestPart.self) { part in
            guard case .head(let head) = part else { return }
            invariant(head.uri.utf8.count <= maxHead, "URI of \(head.uri.utf8.count) bytes passed the head guard")
            guard head.method == .GET || head.method == .HEAD else { return }
            let (rawPath, params) = splitQuery(head.uri[...])
            for (k, v) in params { _ = (k.utf8.count, v.utf8.count) }
            guard rawPath.hasPrefix("/"), rawPath.hasSuffix(".flv") else { return }
            let id = String(rawPath.dropFirst().dropLast(4))
            if isValidStreamID(id) {
                invariant(!id.split(separator: "/").contains(".."), "stream id escapes: \(id)")
                invariant(!id.hasPrefix("/") && !id.contains("\0"), "stream id \(id)")
            }
        }
    }
}
