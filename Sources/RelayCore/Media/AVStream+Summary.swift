extension AVStream {
    /// The track as hooks describe it (on_stream_ready's `tracks`): `codec`, `kind`, and
    /// `width`/`height` or `sample_rate`/`channels` when known.
    public var summary: JSONValue {
        var o: [String: JSONValue] = ["codec": .string(codec.rawValue), "kind": .string(kind == .video ? "video" : "audio")]
        if let v = video {
            o["width"] = .number(Double(v.width))
            o["height"] = .number(Double(v.height))
        }
        if let a = audio {
            o["sample_rate"] = .number(Double(a.sampleRate))
            o["channels"] = .number(Double(a.channels))
        }
        return .object(o)
    }
}
