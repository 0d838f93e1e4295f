import Foundation
import FuzzSupport
import RelayCore
import RelayFLV
import RelayGB28181
import RelayJT1078
import RelayRTMP
import RelayRTSP

/// Every module section but `admin` (RelayAdmin is no library product: it would bring
/// Hummingbird into the fuzz build); an input with it is refused as an unknown key.
let sections: [any ConfigSection.Type] = [
    RTMPConfig.self, HTTPFLVConfig.self, RecordConfig.self, RTSPConfig.self, GB28181Config.self, JT1078Config.self,
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
            _ = String(describing: config)
        }
    }
}
