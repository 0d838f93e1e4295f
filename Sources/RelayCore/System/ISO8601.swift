import Foundation

/// RFC 3339 with milliseconds, UTC: how the admin API writes times.
public func iso8601(_ date: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: date)
}
