import Foundation
import RelayCore

/// A protocol's config tests: JSON parsed with that protocol's sections, as the server parses it.
public protocol ConfigSuite {
    static var sections: [any ConfigSection.Type] { get }
}

extension ConfigSuite {
    public func parse(_ json: String) throws -> RelayConfig {
        try RelayConfig.parse(Data(json.utf8), sections: Self.sections)
    }

    /// The key a refused config names; nil when it is accepted, "?" for an error that is not a ConfigError.
    public func field(_ json: String) -> String? {
        do { _ = try parse(json); return nil } catch let e as ConfigError { return e.field } catch { return "?" }
    }
}
