import Foundation
import RelayCore

/// A config test suite: JSON parsed as the server parses it, with the protocol sections the suite
/// names (none for the core's own suites; a test may add more).
public protocol ConfigSuite {
    static var sections: [any ConfigSection.Type] { get }
}

extension ConfigSuite {
    public static var sections: [any ConfigSection.Type] { [] }

    public func parse(_ json: String, _ extra: [any ConfigSection.Type] = []) throws -> RelayConfig {
        try RelayConfig.parse(Data(json.utf8), sections: Self.sections + extra)
    }

    /// The key a refused config names; nil when it is accepted, "?" for an error that is not a ConfigError.
    public func field(_ json: String, _ extra: [any ConfigSection.Type] = []) -> String? {
        do { _ = try parse(json, extra); return nil } catch let e as ConfigError { return e.field } catch { return "?" }
    }

    /// What a refused config reports, for tests of its message; nil when it is accepted or fails
    /// with an error that is not a ConfigError.
    public func error(_ json: String, _ extra: [any ConfigSection.Type] = []) -> ConfigError? {
        do { _ = try parse(json, extra); return nil } catch let e as ConfigError { return e } catch { return nil }
    }
}
