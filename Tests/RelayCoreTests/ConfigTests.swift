import Foundation
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

@Suite struct ConfigTests: ConfigParsing {
    @Test func emptyObjectGivesDefaults() throws {
        let c = try parse("{}")
        #expect(c.source.mergeWriteMs == 0)
        #expect(c.logLevel == "info" && c.eventLoops == 0)
        #expect(c == RelayConfig.default)
    }

    @Test func errorsNameTheField() {
        #expect(error(#"{"colour": 1}"#)?.field == "colour")
        #expect(error(#"{"source": {"gop_cache": 1}}"#)?.field == "source.gop_cache")
        #expect(error(#"{"player": {"slow_policy": "ignore"}}"#)?.field == "player.slow_policy")
        #expect(error(#"{"player": []}"#)?.field == "player")
        #expect(error(#"{"event_loops": 1000}"#)?.field == "event_loops")
        #expect(error(#"{"source": {"gop_cache": true}"#)?.field == "")
        #expect(error(#"[1, 2]"#)?.field == "")
        let e = error(#"{"source": {"merge_write_ms": -1}}"#)
        #expect(e?.description.contains("source.merge_write_ms") == true)
    }

    /// A module section is read, checked and stored by type; a server that does not link the
    /// module refuses its key like any unknown key.
    @Test func moduleSectionsAreReadByType() throws {
        let c = try parse(#"{"echo": {"port": 17, "depth": 9}}"#, [EchoConfig.self])
        #expect(c[EchoConfig.self].listener == RelayConfig.Listener(enabled: true, host: "0.0.0.0", port: 17))
        #expect(c[EchoConfig.self].depth == 9)
        #expect(error(#"{"echo": {"depht": 2}}"#, [EchoConfig.self])?.field == "echo.depht")
        #expect(error(#"{"echo": {"depth": 10}}"#, [EchoConfig.self])?.field == "echo.depth")
        #expect(error(#"{"echo": {"depth": 9}}"#, [EchoConfig.self])?.field == "echo.depth")
        #expect(error(#"{"echo": {"port": "7"}}"#, [EchoConfig.self])?.field == "echo.port")
        #expect(error(#"{"echo": 1}"#, [EchoConfig.self])?.field == "echo")
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
