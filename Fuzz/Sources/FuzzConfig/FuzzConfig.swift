import Foundation
import FuzzSupport
import RelayCore

/// config.json: JSONValue (the raw tree ConfigReader walks) and RelayConfig.parse, which checks
/// every key, type and range. Anything it accepts must be within the documented bounds.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        let bytes = Data(input)
        _ = try? JSONValue.parse(bytes)
        if let config = try? RelayConfig.parse(bytes) {
            invariant(config.rtmp.maxMessageSize > 0 && config.rtmp.chunkSize > 0, "RTMP sizes accepted: \(config.rtmp)")
            _ = String(describing: config)
        }
    }
}
