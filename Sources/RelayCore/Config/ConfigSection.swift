/// A config.json section declared by the module it configures (`rtmp` by RelayRTMP): the module
/// reads and checks its own keys; the core loads the sections of the modules a server links
/// (`RelayConfig.parse(_:sections:)`) and rejects top-level keys no linked module declares.
public protocol ConfigSection: Sendable, Equatable {
    /// The top-level key ("rtmp").
    static var key: String { get }
    /// Reads the section from a reader of its object (errors name `key.field`); the loader
    /// rejects the keys left unread afterwards.
    init(reading config: inout ConfigReader) throws
    /// The section when config.json leaves it out (`static let defaults = parsedDefaults`).
    static var defaults: Self { get }
}

extension ConfigSection {
    /// The section of an object: every key read and checked, unknown keys rejected.
    public static func parse(_ object: [String: JSONValue]) throws -> Self {
        var reader = ConfigReader(object, path: key)
        let section = try Self(reading: &reader)
        try reader.rejectUnknownKeys()
        return section
    }

    /// Every key at its default, read from an empty object (for `static let defaults`: made
    /// once). An empty object always validates: the config tests hold the shipped config.json,
    /// which writes out every default, equal to the defaults.
    public static var parsedDefaults: Self {
        do {
            return try parse([:])
        } catch {
            fatalError("the defaults of config section '\(key)' do not validate: \(error)")
        }
    }

    func isEqual(to other: any ConfigSection) -> Bool { (other as? Self) == self }
    var isDefault: Bool { self == Self.defaults }
}
