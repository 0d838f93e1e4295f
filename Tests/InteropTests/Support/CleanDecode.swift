import Foundation
import Testing

/// ffmpeg (`-v error`) decoded `what` to its end and printed nothing: the stream is clean.
func expectCleanDecode(_ status: Int32?, _ err: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(status == 0, "\(what): \(err)", sourceLocation: sourceLocation)
    #expect(err.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "decode errors over \(what): \(err)",
            sourceLocation: sourceLocation)
}
