/// A stream output played over one long HTTP response or a WebSocket on the players' HTTP port:
/// `GET /APP/STREAM<suffix>`. The HTTP listener knows these by suffix and nothing of their format;
/// the muxers are the context's (`RelayContext.muxers`) for `http` and `webSocket`.
public struct HTTPStreamOutput: Sendable {
    /// Path endings, longest first (".live.flv", ".flv"): the stream id is the path without it.
    public var suffixes: [String]
    /// The chunked HTTP TransStream.
    public var http: OutputKind
    /// The WebSocket TransStream, if the output is offered over WebSocket.
    public var webSocket: OutputKind?
    public var contentType: String

    public init(suffixes: [String], http: OutputKind, webSocket: OutputKind?, contentType: String) {
        self.suffixes = suffixes.sorted { $0.count > $1.count }
        self.http = http
        self.webSocket = webSocket
        self.contentType = contentType
    }

    /// HTTP-FLV and WS-FLV (`.live.flv` is ZLMediaKit's name for the same output).
    public static let flv = HTTPStreamOutput(suffixes: [".live.flv", ".flv"], http: .flv, webSocket: .wsFLV,
                                             contentType: "video/x-flv")
    /// Fragmented MP4 over HTTP and WebSocket (`.live.mp4`, ZLMediaKit's name).
    public static let fmp4 = HTTPStreamOutput(suffixes: [".live.mp4", ".mp4"], http: .fmp4, webSocket: .wsFMP4,
                                              contentType: "video/mp4")

    /// The output `path` asks for and its stream id (the path without "/" and the suffix).
    public static func match(_ path: Substring, in outputs: [HTTPStreamOutput]) -> (output: HTTPStreamOutput, id: String)? {
        guard path.hasPrefix("/") else { return nil }
        for output in outputs {
            for suffix in output.suffixes where path.hasSuffix(suffix) && path.count > suffix.count + 1 {
                return (output, String(path.dropFirst().dropLast(suffix.count)))
            }
        }
        return nil
    }
}
