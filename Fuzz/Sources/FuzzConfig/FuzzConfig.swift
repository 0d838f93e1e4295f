import Foundation
import FuzzSupport
import RelayCore
import RelayFLV
import RelayGB28181
import RelayJT1078
import RelayPull
import RelayRTMP
import RelayRTSP

/// Every module section but `admin` (RelayAdmin would bring Hummingbird into the fuzz build) and
/// `cluster` (RelayCluster would bring postgres-nio; its unit tests cover it): an input with either
/// is refused as an unknown key.
let sections: [any ConfigSection.Type] = [
    RTMPConfig.self, HTTPFLVConfig.self, RecordConfig.self, RTSPConfig.self, GB28181Config.self, JT1078Config.self,
    PullConfig.self,
]

/// config.json: JSONValue (the raw tree ConfigReader walks) and RelayConfig.parse, which checks
/// every key, type and range. Anything it accepts must be within the documented bounds.
@main
enum FuzzerMain: FuzzTarget {
    static func fuzz(_ input: [UInt8]) {
        let bytes = Data(input)
        _ = try? JSONValue.parse(bytes)
        if let config = try? RelayConfig.parse(bytes, sections: sections) {
            invariant(config.rtmp.maxMessageSize > 0 && config.rtmp.chunkSize > 0, "RTMP sizes accepted: \(config.rtmp)")
            let pull = config.pull
            invariant(pull.reconnectMinMs <= pull.reconnectMaxMs && pull.maxPulls > 0, "pull bounds accepted: \(pull)")
            invariant(pull.pulls.allSatisfy { UpstreamURL($0.url) != nil }, "pull URL accepted: \(pull.pulls)")
            _ = String(describing: config)
        }
    }
}
