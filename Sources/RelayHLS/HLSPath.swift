import RelayCore

/// What an HLS URL names: `/APP/STREAM.m3u8` (a playlist) or `/APP/STREAM.hls/SESSION/FILE`
/// (a segment `N.ts`/`N.m4s`, a part `N.P.m4s`, an init segment `init.mp4`/`init-K.mp4`).
/// Anything else, or a number that is not plain decimal digits, is nil (404).
enum HLSPath: Equatable {
    case playlist(stream: String)
    case file(stream: String, session: String, file: HLSFile)

    static let playlistSuffix = ".m3u8"
    static let filesMarker = ".hls/"
    private static let markerBytes = Array(filesMarker.utf8)

    /// Whether the route serves `path` (percent-encoded, without the query).
    static func matches(_ path: Substring) -> Bool {
        path.utf8.hasSuffix(playlistSuffix.utf8) || lastMarker(in: path) != nil
    }

    /// Where the last `.hls/` starts and ends, by bytes (no Foundation string search per request).
    static func lastMarker(in path: Substring) -> Range<Substring.Index>? {
        let bytes = path.utf8, marker = markerBytes
        var end = bytes.endIndex
        while let slash = bytes[..<end].lastIndex(of: UInt8(ascii: "/")) {
            let after = bytes.index(after: slash)
            if let start = bytes.index(slash, offsetBy: -(marker.count - 1), limitedBy: bytes.startIndex),
               bytes[start..<after].elementsEqual(marker) {
                return start..<after
            }
            end = slash
        }
        return nil
    }

    init?(_ path: Substring) {
        guard path.first == "/" else { return nil }
        let body = path.dropFirst()
        if body.utf8.hasSuffix(Self.playlistSuffix.utf8) {
            let stream = String(body.dropLast(Self.playlistSuffix.count))
            guard isValidStreamID(stream) else { return nil }
            self = .playlist(stream: stream)
            return
        }
        guard let marker = Self.lastMarker(in: body) else { return nil }
        let stream = String(body[..<marker.lowerBound])
        let rest = HLSFile.pieces(body[marker.upperBound...], UInt8(ascii: "/"))
        guard isValidStreamID(stream), rest.count == 2, HLSRegistry.isToken(rest[0]),
              let file = HLSFile(rest[1]) else { return nil }
        self = .file(stream: stream, session: String(rest[0]), file: file)
    }
}

enum HLSFile: Equatable {
    case segment(msn: Int, format: HLSFormat)
    case part(msn: Int, part: Int)
    case initSegment(Int)

    init?(_ name: Substring) {
        if name == "init.mp4" {
            self = .initSegment(0)
            return
        }
        if name.utf8.starts(with: "init-".utf8), name.utf8.hasSuffix(".mp4".utf8) {
            guard let id = Self.number(name.dropFirst(5).dropLast(4)) else { return nil }
            self = .initSegment(id)
            return
        }
        let pieces = Self.pieces(name, UInt8(ascii: "."))
        switch (pieces.count, pieces.last) {
        case (2, "ts"):
            guard let msn = Self.number(pieces[0]) else { return nil }
            self = .segment(msn: msn, format: .ts)
        case (2, "m4s"):
            guard let msn = Self.number(pieces[0]) else { return nil }
            self = .segment(msn: msn, format: .fmp4)
        case (3, "m4s"):
            guard let msn = Self.number(pieces[0]), let part = Self.number(pieces[1]) else { return nil }
            self = .part(msn: msn, part: part)
        default:
            return nil
        }
    }

    /// `s` split at every `separator` byte (ASCII: always a character boundary).
    static func pieces(_ s: Substring, _ separator: UInt8) -> [Substring] {
        s.utf8.split(separator: separator, omittingEmptySubsequences: false).map { Substring($0) }
    }

    /// Plain decimal digits, at most 15 of them (no sign, no overflow).
    static func number(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.utf8.count <= 15, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(s)
    }
}

extension Substring.UTF8View {
    func hasSuffix(_ suffix: String.UTF8View) -> Bool {
        count >= suffix.count && self.suffix(suffix.count).elementsEqual(suffix)
    }
}

/// The query fields a session's requests use, read by bytes without decoding (their values are
/// hex and digits; an encoded one fails its check: 404/400). A new session's query goes to the
/// hook whole, decoded (`splitQuery`).
struct HLSQuery {
    var session: Substring?
    var msn: Substring?
    var part: Substring?

    init(_ query: String) {
        for pair in query.utf8.split(separator: UInt8(ascii: "&")) {
            guard let eq = pair.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = pair[..<eq], value = Substring(pair[pair.index(after: eq)...])
            if key.elementsEqual("session".utf8) { session = value }
            else if key.elementsEqual("_HLS_msn".utf8) { msn = value }
            else if key.elementsEqual("_HLS_part".utf8) { part = value }
        }
    }
}
