import Foundation
import RelayTestSupport
import Testing
@testable import RelayCore

/// A module's section as the core sees it (the real ones live in their modules and their tests).
private struct EchoConfig: ConfigSection {
    static let key = "echo"
    var listener: RelayConfig.Listener
    var depth: Int

    init(reading r: inout ConfigReader) throws {
        listener = try r.listener(port: 7)
        depth = try r.int("depth", default: 3, in: 1...9)
        if depth == 9 && listener.port == 7 { throw r.error("depth", "9 needs a port of its own") }
    }

    static let defaults = Self.parsedDefaults
}

@Suite struct ConfigTests: ConfigSuite {
    @Test func emptyObjectGivesDefaults() throws {
        let c = try parse("{}")
        #expect(c.source.mergeWrite == .adaptive(maxMs: 350, writesPerSecond: 1000))
        #expect(c.logLevel == "info" && c.eventLoops == 0)
        #expect(c == RelayConfig.default)
    }

    @Test func errorsNameTheField() {
        #expect(field(#"{"colour": 1}"#) == "colour")
        #expect(field(#"{"source": {"gop_cache": 1}}"#) == "source.gop_cache")
        #expect(field(#"{"player": {"slow_policy": "ignore"}}"#) == "player.slow_policy")
        #expect(field(#"{"player": []}"#) == "player")
        #expect(field(#"{"event_loops": 1000}"#) == "event_loops")
        #expect(field(#"{"source": {"gop_cache": true}"#) == "")
        #expect(field(#"[1, 2]"#) == "")
        let e = error(#"{"source": {"merge_write_ms": -1}}"#)
        #expect(e?.description.contains("source.merge_write_ms") == true)
    }

    /// A module section is read, checked and stored by type; a server that does not link the
    /// module refuses its key like any unknown key.
    @Test func moduleSectionsAreReadByType() throws {
        let c = try parse(#"{"echo": {"port": 17, "depth": 9}}"#, [EchoConfig.self])
        #expect(c[EchoConfig.self].listener == RelayConfig.Listener(enabled: true, host: "0.0.0.0", port: 17))
        #expect(c[EchoConfig.self].depth == 9)
        #expect(field(#"{"echo": {"depht": 2}}"#, [EchoConfig.self]) == "echo.depht")
        #expect(field(#"{"echo": {"depth": 10}}"#, [EchoConfig.self]) == "echo.depth")
        #expect(field(#"{"echo": {"depth": 9}}"#, [EchoConfig.self]) == "echo.depth")
        #expect(field(#"{"echo": {"port": "7"}}"#, [EchoConfig.self]) == "echo.port")
        #expect(field(#"{"echo": 1}"#, [EchoConfig.self]) == "echo")
        let unlinked = error(#"{"echo": {}}"#)
        #expect(unlinked?.field == "echo" && unlinked?.message == "unknown key")
    }

    /// Absent sections read as their defaults, and equality does not depend on whether a
    /// default section was stored.
    @Test func absentSectionsAreTheirDefaults() throws {
        var stored = try parse(#"{"echo": {}}"#, [EchoConfig.self])
        let absent = try parse("{}")
        #expect(absent[EchoConfig.self] == EchoConfig.defaults)
        #expect(stored == absent)
        var filled = absent
        filled.includeDefaults(of: [EchoConfig.self])
        #expect(filled == stored)
        stored[EchoConfig.self].depth = 4
        #expect(stored != absent && absent != stored)
        #expect(stored[EchoConfig.self].depth == 4)
    }

    @Test func streamIDs() {
        #expect(isValidStreamID("live/test"))
        #expect(isValidStreamID("a/b/c-1_2.x"))
        #expect(!isValidStreamID("live/../etc"))
        #expect(!isValidStreamID("live//x"))
        #expect(!isValidStreamID(""))
        #expect(!isValidStreamID("live/a b"))
    }

    @Test func queryStrings() {
        let (path, params) = splitQuery("live/x?token=a%20b&k=&flag")
        #expect(path == "live/x")
        #expect(params == ["token": "a b", "k": "", "flag": ""])
    }
}
