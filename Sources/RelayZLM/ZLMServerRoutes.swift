import Foundation
import RelayCore
import RelayGB28181

/// The server routes: getServerConfig / setServerConfig (the dialect's flat `section.key` map,
/// mapped from our config and run-time settings), restartServer, version, getApiList.
extension ZLMFacade {
    static let serverRoutes: [(String, Route)] = [
        ("getServerConfig", { f, _ in .json(["data": .array([.object(f.serverConfigMap().mapValues(JSONValue.string))])]) }),
        ("setServerConfig", { try $0.setServerConfig($1) }),
        ("restartServer", { f, _ in f.restartServer() }),
        ("version", { f, _ in f.version() }),
        ("getApiList", { _, _ in .json(["data": .array(routeNames.map { .string(prefix + $0) })]) }),
        ("getSnap", { try await $0.getSnap($1) }),
    ]

    /// ZLMediaKit's `ffmpeg.cmd` / `ffmpeg.snap` templates (conf/config.ini), echoed because
    /// platforms read the keys; this server runs ffmpeg only for getSnap, with its own arguments.
    static let ffmpegCmd = "%s -re -i %s -c:a aac -strict -2 -ar 44100 -ab 48k -c:v libx264 -f flv %s"
    static let ffmpegSnap = "%s -i %s -y -f mjpeg -frames:v 1 -an %s"

    /// The flattened getServerConfig map ("general.mediaServerId", "hook.alive_interval", …),
    /// also the on_server_started body. Keys and defaults follow conf/config.ini; `api.secret`
    /// is never echoed.
    public func serverConfigMap() -> [String: String] {
        let p = ports()
        let c = context.config
        let range = gb28181.portRange
        var m: [String: String] = [
            "general.mediaServerId": settings.mediaServerID,
            "general.enableVhost": "0",
            "general.streamNoneReaderDelayMS": String(c.source.idleTimeoutMs),
            "general.maxStreamWaitMS": String(c.source.playWaitMs),
            "hook.enable": settings.hookEnabled ? "1" : "0",
            "hook.alive_interval": settings.aliveIntervalText,
            "hook.timeoutSec": settings.hookTimeoutText,
            "hook.stream_changed_schemas": "rtsp/rtmp",
            "http.port": String(p["http_flv"] ?? 0), "http.sslport": "0",
            "rtmp.port": String(p["rtmp"] ?? 0), "rtmp.sslport": "0",
            "rtsp.port": String(p["rtsp"] ?? 0), "rtsp.sslport": "0",
            "rtp_proxy.port": String(gb28181.sharedUDPPort ?? p["gb28181_udp"] ?? 0),
            "rtp_proxy.port_range": "\(range.lowerBound)-\(range.upperBound)",
            "rtp_proxy.timeoutSec": String(c.source.receiveTimeoutMs / 1000),
            "transcode.suffix": "",
            "ffmpeg.bin": ZLMSnapshot.ffmpegPath() ?? "ffmpeg",
            "ffmpeg.cmd": Self.ffmpegCmd, "ffmpeg.snap": Self.ffmpegSnap,
            "protocol.enable_rtmp": p["rtmp"] != nil || p["http_flv"] != nil ? "1" : "0",
            "protocol.enable_rtsp": p["rtsp"] != nil ? "1" : "0",
            "protocol.enable_hls": "0", "protocol.enable_ts": "0", "protocol.enable_fmp4": "0", "protocol.enable_mp4": "0",
            "protocol.enable_audio": "1",
            "protocol.continue_push_ms": String(c.source.publisherGraceMs),
        ]
        for name in ZLMSettings.listedHooks { m["hook." + name] = "" }
        for (name, url) in settings.allHooks { m["hook." + name] = url }
        return m
    }

    /// setServerConfig(section.key=value …) → `{changed}`. Applied at run time: `hook.*` (URLs,
    /// `enable`, `alive_interval`, `timeoutSec`) and `rtp_proxy.port_range` ("40000-45000" or
    /// "40000,45000"). Other keys are ignored and not counted, as the dialect skips keys it does
    /// not know; one unusable value refuses the whole call (-300) with nothing applied.
    func setServerConfig(_ p: ZLMParams) throws -> ZLMResult {
        var changes: [ZLMSettings.Change] = []
        var range: ClosedRange<Int>?
        for (key, value) in p.all where key.lowercased() != "secret" {
            if key.lowercased() == "rtp_proxy.port_range" {
                range = try Self.portRange(value)
            } else if let change = try ZLMSettings.change(key: key, value: value) {
                changes.append(change)
            }
        }
        var changed = 0
        for change in changes where settings.apply(change) { changed += 1 }
        let hooksChanged = changed > 0
        if let range, range != gb28181.portRange {
            try gb28181.setPortRange(range)
            changed += 1
        }
        if hooksChanged { settings.hooksChanged() }
        if changed > 0 { logger.info("zlm setServerConfig: \(changed) setting(s) changed") }
        return .json(["changed": .whole(changed)])
    }

    /// "min-max" or "min,max" (wvp's spelling), 1...65535, min ≤ max.
    static func portRange(_ text: String) throws(ZLMFailure) -> ClosedRange<Int> {
        let parts = text.split(whereSeparator: { $0 == "-" || $0 == "," }).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let lo = ZLMParams.integer(parts[0]), let hi = ZLMParams.integer(parts[1]),
              lo >= 1, hi <= 65535, lo <= hi else {
            throw ZLMFailure(.invalidArgs, "'rtp_proxy.port_range' must be \"min-max\" within 1-65535, got '\(printableStreamID(text))'")
        }
        return lo...hi
    }

    /// Refused honestly: this server does not restart itself.
    func restartServer() -> ZLMResult {
        .json(["code": .whole(ZLMCode.otherFailed.rawValue),
               "msg": .string("restart is not supported: settings from setServerConfig apply at once; restart the process with its service manager")])
    }

    /// version → `data: {buildTime, branchName, commitHash}` (WebApi.cpp), plus `version`. No
    /// git metadata is compiled in: the executable's modification time stands for the build time.
    func version() -> ZLMResult {
        var built = ""
        if let path = Bundle.main.executablePath,
           let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date {
            built = iso8601(date)
        }
        return .json(["data": .object(["buildTime": .string(built), "branchName": .string("LiveRelay"), "commitHash": .string(""),
                                       "version": .string("\(RelayVersion.version) (\(RelayVersion.configuration))")])])
    }
}
