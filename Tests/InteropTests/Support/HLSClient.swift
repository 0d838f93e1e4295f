import Foundation
import RelayTestSupport
import Testing

/// An HLS viewer of the relay's players' port, as tests drive it: a session from the
/// multivariant playlist, then its media playlist and files (our own checks beside ffmpeg's).
struct HLSClient {
    let http: AdminHTTP
    /// `/live/x` (no suffix).
    let stream: String
    /// The media playlist path with its query (`/live/x.m3u8?session=…`).
    private(set) var mediaPath = ""
    private(set) var multivariant = ""

    init(port: Int, stream: String) {
        self.http = AdminHTTP(port: port)
        self.stream = "/" + stream
    }

    /// Opens a session; the multivariant playlist must name one variant.
    mutating func open(query: String = "") async throws {
        let r = try await http.get(stream + ".m3u8" + (query.isEmpty ? "" : "?" + query))
        try #require(r.status == 200, "new session: \(r.status) \(r.text)")
        multivariant = r.text
        let uri = try #require(r.text.split(separator: "\n").first { !$0.hasPrefix("#") && !$0.isEmpty })
        mediaPath = (stream as NSString).deletingLastPathComponent + "/" + uri
    }

    /// The media playlist (with `_HLS_msn` / `_HLS_part` for a blocking reload).
    func playlist(msn: Int? = nil, part: Int? = nil) async throws -> (status: Int, playlist: HLSMediaPlaylist, text: String) {
        var path = mediaPath
        if let msn { path += "&_HLS_msn=\(msn)" }
        if let part { path += "&_HLS_part=\(part)" }
        let r = try await http.get(path)
        return (r.status, HLSMediaPlaylist(r.text), r.text)
    }

    /// A file named in a playlist (relative to it).
    func file(_ uri: String) async throws -> AdminHTTP.Response {
        try await http.get((stream as NSString).deletingLastPathComponent + "/" + uri)
    }

    /// `#EXT-X-PROGRAM-DATE-TIME` of each listed segment, by media sequence number.
    static func programDates(_ text: String, mediaSequence: Int) -> [Int: Date] {
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var result: [Int: Date] = [:]
        var msn = mediaSequence
        var pending: Date?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#EXT-X-PROGRAM-DATE-TIME:") {
                pending = parser.date(from: String(line.dropFirst("#EXT-X-PROGRAM-DATE-TIME:".count)))
            } else if !line.hasPrefix("#") {
                if let pending { result[msn] = pending }
                pending = nil
                msn += 1
            }
        }
        return result
    }
}
