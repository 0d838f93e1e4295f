import RelayCore

/// What a request URI names: `rtsp://host[:port]/app/stream[/trackID=N][?query]`.
struct RTSPTarget: Equatable {
    var streamID: String
    /// The track of a SETUP control URL (`trackID=N`, N = the track's stream index).
    var trackID: Int?
    var params: [String: String]
    /// `rtsp://host:port/app/stream/`: the Content-Base track control URLs resolve against.
    var base: String

    static let trackPrefix = "trackID="

    init?(uri: String) {
        var scheme = "rtsp"
        var authority = ""
        var rest = Substring(uri)
        if let sep = rest.firstRange(of: "://") {
            scheme = rest[..<sep.lowerBound].lowercased()
            guard scheme == "rtsp" || scheme == "rtsps" || scheme == "rtspu" else { return nil }
            rest = rest[sep.upperBound...]
            let end = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            authority = String(rest[..<end])
            rest = rest[end...]
        } else if !rest.hasPrefix("/") {
            return nil
        }
        // A client without Content-Base appends the control URL after any query, so look for the
        // track before splitting the query off.
        var track: Int?
        if let slash = rest.lastIndex(of: "/") {
            let last = rest[rest.index(after: slash)...]
            if last.hasPrefix(Self.trackPrefix), let n = Int(last.dropFirst(Self.trackPrefix.count)), n >= 0 {
                track = n
                rest = rest[..<slash]
            }
        }
        var (path, params) = splitQuery(rest)
        while path.hasPrefix("/") { path = path.dropFirst() }
        while path.hasSuffix("/") { path = path.dropLast() }
        let id = String(path)
        guard isValidStreamID(id) else { return nil }
        streamID = id
        trackID = track
        self.params = params
        base = "\(scheme)://\(authority)/\(id)/"
    }
}
