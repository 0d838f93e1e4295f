import Foundation
import Testing
@testable import RelayPull

/// The API's pull `url` pattern (openapi.yaml, PullAdd) and the server's own rule must agree:
/// a URL the schema forbids but the server takes (or the other way) is what schemathesis reports
/// ("http://k*" was taken once). Checked on hand-picked URLs and on thousands of mutations.
@Suite struct PullURLPatternTests {
    static func pattern() throws -> NSRegularExpression {
        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("openapi.yaml")
        let text = try String(contentsOf: spec, encoding: .utf8)
        let block = try #require(text.range(of: "    PullAdd:").map { text[$0.upperBound...] })
        let line = try #require(block.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("pattern: '") })
        let quoted = line.drop { $0 != "'" }.dropFirst().dropLast()
        return try NSRegularExpression(pattern: String(quoted))
    }

    static func schemaAllows(_ url: String, _ regex: NSRegularExpression) -> Bool {
        url.utf16.count <= 2048 && regex.firstMatch(in: url, range: NSRange(url.startIndex..., in: url)) != nil
    }

    static func serverAllows(_ url: String) -> Bool {
        (try? PullManager.validate(PullSpec(stream: "live/a", url: url))) != nil
    }

    static let seeds = [
        "rtsp://admin:p%40ss@10.0.0.5/Streaming/Channels/101?transportmode=unicast", "rtsp://cam.local:8554/live",
        "RTSP://cam_1.local", "rtsp://[::1]:554/x", "rtsp://[fe80::1%25eth0]/x", "http://k", "http://k*", "https://cdn.example/live/a.flv",
        "http://u@h/a.flv", "http://@h/a.flv", "http://a@b@h/x", "http://h:0/x", "http://h:0080/x", "http://h:65535/x",
        "http://h:65536/x", "http://h:/x", "http://h:+80/x", "http://h x/y", "http://h/a b", "http://é/x", "http://h/é",
        "rtmp://origin:1936/live/a", "rtmp://origin/live", "rtmp://origin/live/", "rtmp://origin/live/?x", "rtmp://o/a?/b",
        "rtmp://u:p@origin/live/a", "rtmp://origin/li!ve/a~b?token=1", "rtmp://[::1]/live/a", "ftp://h/x", "rtsp:/h/x",
        "rtsp://", "rtsp://h#f", "rtsp://h?x", "rtsp://[::1", "rtsp://[::1]x", "rtsp://[zz]/x", "http://k.-_/x",
    ]

    @Test func handPickedURLs() throws {
        let regex = try Self.pattern()
        for url in Self.seeds {
            #expect(Self.schemaAllows(url, regex) == Self.serverAllows(url), "\(url): schema \(Self.schemaAllows(url, regex)), server \(Self.serverAllows(url))")
        }
    }

    @Test func mutatedURLs() throws {
        let regex = try Self.pattern()
        // Characters that matter to the rules: separators, digits, brackets, non-ASCII, space.
        let alphabet = Array(":/?@[]#%._-~*+ 09azAZé!\u{7F}") + ["6", "5", "3"]
        var rng = SplitMix(seed: 0x5EED)
        var disagreements: [String] = []
        for _ in 0..<20_000 {
            var url = Array(Self.seeds[Int(rng.next() % UInt64(Self.seeds.count))])
            for _ in 0...(rng.next() % 3) {
                let at = url.isEmpty ? 0 : Int(rng.next() % UInt64(url.count))
                switch rng.next() % 3 {
                case 0: url.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                case 1: if !url.isEmpty { url.remove(at: at) }
                default: if !url.isEmpty { url[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                }
            }
            let text = String(url)
            if Self.schemaAllows(text, regex) != Self.serverAllows(text) { disagreements.append(text) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }
}

/// A small deterministic generator (the same mutations every run).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
