import Foundation
import RelayCore

/// The core's config suites: JSON parsed as the server parses it (protocol sections only where a test names them).
protocol ConfigParsing {}

extension ConfigParsing {
    func parse(_ json: String, _ sections: [any ConfigSection.Type] = []) throws -> RelayConfig {
        try RelayConfig.parse(Data(json.utf8), sections: sections)
    }

    /// What a refused config reports; nil when it is accepted or fails some other way.
    func error(_ json: String, _ sections: [any ConfigSection.Type] = []) -> ConfigError? {
        do { _ = try parse(json, sections); return nil } catch let e as ConfigError { return e } catch { return nil }
    }
}
