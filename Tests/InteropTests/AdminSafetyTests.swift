import Foundation
import NIOCore
import RelayAdmin
import RelayCore
import RelayServer
import Testing

/// Issue 10, admin API safety: the token guards every method and path, bodies are bounded, and no
/// stream id — from the admin API, an RTMP publisher, an HTTP-FLV or RTSP player — reaches a file
/// outside `record.dir`, with recording on.
@Suite(.serialized)
struct AdminSafetyTests {
    /// A temp tree `base/l1/l2/l3/l4/rec` with `rec` as `record.dir`: up to four `..` from it stay in
    /// `base`, so any path under `base` beside the record dir is an escape; a marker name (unique per
    /// run) in every hostile id is also looked for above `base`.
    struct Sandbox {
        let base: String
        let marker = "escape-" + String(UUID().uuidString.prefix(8)).lowercased()
        var rec: String { base + "/l1/l2/l3/l4/rec" }

        init() throws {
            base = FileManager.default.temporaryDirectory.appendingPathComponent("relay-safety-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: base + "/l1/l2/l3/l4/rec", withIntermediateDirectories: true)
        }

        /// Paths under `base` that are neither the record dir, one of its parents, nor inside it;
        /// and places above `base` where the marker appeared.
        func escapes() -> [String] {
            let allowed: Set = ["l1", "l1/l2", "l1/l2/l3", "l1/l2/l3/l4", "l1/l2/l3/l4/rec"]
            var out = (FileManager.default.subpaths(atPath: base) ?? [])
                .filter { !allowed.contains($0) && !$0.hasPrefix("l1/l2/l3/l4/rec/") }.map { base + "/" + $0 }
            let parent = (base as NSString).deletingLastPathComponent
            for dir in [parent, "/", FileManager.default.currentDirectoryPath, base + "/l1/l2/l3/l4/rec"] {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.contains(marker) {
                    out.append(dir + "/" + name)
                }
            }
            return out.sorted()
        }

        /// Recordings (relative to the record dir).
        func recordings() -> [String] {
            (FileManager.default.subpaths(atPath: rec) ?? []).filter { $0.hasSuffix(".flv") }.sorted()
        }

        func remove() { try? FileManager.default.removeItem(atPath: base) }
    }

    static func recordConfig(_ sandbox: Sandbox) -> String {
        #""record": {"enabled": true, "dir": "\#(sandbox.rec)", "segment_ms": 0}"#
    }

    /// An answer of the admin API to hostile input: 400 or 404, a JSON error with that status.
    static func expectJSONError(_ r: AdminHTTP.Response, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 400 || r.status == 404, "\(what): \(r.status) \(r.text.prefix(300))", sourceLocation: sourceLocation)
        #expect(r.headers["content-type"]?.hasPrefix("application/json") == true, "\(what): \(r.headers)", sourceLocation: sourceLocation)
        #expect(r.value["status"]?.int == r.status, "\(what): \(r.text.prefix(300))", sourceLocation: sourceLocation)
        #expect(r.value["error"]?.string?.isEmpty == false, "\(what): \(r.text.prefix(300))", sourceLocation: sourceLocation)
    }

    /// Every `{stream}` route and the `?stream=` filter, with ids that try to leave the record dir
    /// (`..`, `%2e%2e`, `%2F`, absolute paths, NUL, backslashes, 10 KB): each is answered 400 or 404
    /// with a JSON error — never 5xx — and no file appears outside `record.dir`.
    @Test func hostileStreamIDsGetAJSONErrorAndTouchNoFile() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let spec = try OpenAPISpec.load()
        let server = try await TestServer.start(Self.recordConfig(sandbox))
        let api = AdminHTTP(port: server.adminPort)
        let m = sandbox.marker
        let long = String(repeating: "a", count: 10_000)
        // As written in the request path (already percent-encoded where it says so).
        let ids = [
            "..", "../\(m)", "live/../../\(m)", "live/../../../../../\(m)", "..%2F..%2F\(m)", "live%2F..%2F..%2F\(m)",
            "%2e%2e/%2e%2e/\(m)", "%2E%2E%2F%2E%2E%2F\(m)", "live/%2e%2e/%2e%2e/\(m)", "live/.", "./live", "live//x",
            "%2Fetc%2Fpasswd", "%2F\(m)", "live/%2F\(m)", "/etc/passwd", "//etc/passwd",
            "live/x%00", "live%00/x", "%00", "live/x%00.flv",
            "..%5C..%5C\(m)", "live/..%5C\(m)", "%5C\(m)", "live\\..\\\(m)",
            "live/%C0%AE%C0%AE/\(m)", "live/%", "live/%2", "live/%ZZ",
            "live/\(long)", "\(long)/x", String(repeating: "a/", count: 3000) + "x", String(repeating: "../", count: 2000) + m,
        ]
        for id in ids {
            for (method, route) in [("GET", "/api/v1/streams/{stream}"), ("DELETE", "/api/v1/streams/{stream}"),
                                    ("GET", "/api/v1/gb28181/receivers/{stream}"), ("DELETE", "/api/v1/gb28181/receivers/{stream}")] {
                let path = route.replacingOccurrences(of: "{stream}", with: id)
                let r = try await api.request(method, path)
                Self.expectJSONError(r, "\(method) \(path.prefix(120))")
                if r.status == 400 || r.status == 404 { AdminTests.conforms(spec, method, route, r) }
            }
            let query = id.replacingOccurrences(of: "\\", with: "%5C")
            let r = try await api.get("/api/v1/players?stream=\(query)")
            Self.expectJSONError(r, "GET /api/v1/players?stream=\(query.prefix(120))")
            if r.status == 400 || r.status == 404 { AdminTests.conforms(spec, "GET", "/api/v1/players", r) }
        }
        // The same ids decoded, in the body that opens a GB28181 receiver (which would make a stream).
        for stream in ["..", "../\(m)", "live/../../\(m)", "/etc/passwd", "/\(m)", "live/x\u{0}", "\u{0}", "live\\..\\\(m)",
                       "..\\\(m)", "live/\(long)", String(repeating: "../", count: 2000) + m, "live/%2e%2e/\(m)", "live/ x", ""] {
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ["stream": stream, "ssrc": "0100000009"]), as: UTF8.self)
            let r = try await api.post("/api/v1/gb28181/receivers", json: body)
            #expect(r.status == 400, "POST receiver \(stream.prefix(60).debugDescription): \(r.status) \(r.text.prefix(300))")
            AdminTests.conforms(spec, "POST", "/api/v1/gb28181/receivers", r)
        }
        // Nothing was opened or made, the server still answers, and no file appeared.
        #expect(try await api.get("/api/v1/gb28181/receivers").value["count"]?.int == 0)
        #expect(try await api.get("/api/v1/server").status == 200)
        #expect(server.server.context.registry.sources.isEmpty)
        #expect(sandbox.escapes().isEmpty, "\(sandbox.escapes())")
        #expect(sandbox.recordings().isEmpty, "\(sandbox.recordings())")
        #expect(!server.log.lines.contains { $0.hasPrefix("error") }, "\(server.log.lines.filter { $0.hasPrefix("error") })")
        await server.stop()
    }

    /// With recording on, RTMP publishers (ffmpeg with an exact `-rtmp_app` / `-rtmp_playpath`),
    /// HTTP-FLV and RTSP players whose stream names climb out with `..`, `/../`, `%2e%2e`, `%2F`,
    /// backslashes or NUL are refused; a well-named publisher next to them records inside
    /// `record.dir`; no file appears anywhere else.
    @Test func escapingPublishAndPlayNamesAreRefusedAndWriteNothingOutsideTheRecordDir() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let server = try await TestServer.start(Self.recordConfig(sandbox))
        let m = sandbox.marker
        let media = try await TestMedia.shared.h264AACFLV()
        let good = try server.publish(media, stream: "live/ok")
        defer { good.terminate() }

        // Refused publishers: RTMP app and stream name exactly as given.
        let names: [(app: String, path: String)] = [
            ("live", "../../../../\(m)"), ("live", "/../\(m)"), ("live", "x/../../\(m)"), ("..", m), ("../..", m),
            ("live/../../..", m), ("live", "%2e%2e/%2e%2e/\(m)"), ("live", "..%2F..%2F\(m)"), ("live", "%2F\(m)"),
            ("live", "..\\..\\\(m)"), ("live", "\(m)\\..\\..\\x"), ("live", ".."), ("live", "."),
            ("live", String(repeating: "../", count: 300) + m),
        ]
        var refused: [ChildProcess] = []
        for (app, path) in names {
            refused.append(try ChildProcess("ffmpeg", [
                "-hide_banner", "-loglevel", "error", "-re", "-i", media, "-c", "copy",
                "-rtmp_app", app, "-rtmp_playpath", path, "-f", "flv", server.rtmpURL("live/placeholder"),
            ]))
        }
        defer { for p in refused { p.terminate() } }
        #expect(await server.waitPlayable("live/ok"))

        // HTTP-FLV players.
        let flvPaths = [
            "/live/../../\(m).flv", "/../../../../\(m).flv", "/live/%2e%2e/%2e%2e/\(m).flv", "/live/..%2F..%2F\(m).flv",
            "/%2e%2e%2f%2e%2e%2f\(m).flv", "/%2Fetc%2Fpasswd.flv", "//etc/passwd.flv", "/live/x%00.flv",
            "/live/..%5C..%5C\(m).flv", "/live/%C0%AE%C0%AE/\(m).flv", "/live/" + String(repeating: "a", count: 10_000) + ".flv",
        ]
        for path in flvPaths {
            let conn = try await RawConnection.connect(port: server.httpPort)
            try await conn.send(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
            let answer = String(buffer: await conn.waitReceived(12, seconds: 5))
            #expect(answer.hasPrefix("HTTP/1.1 400") || answer.hasPrefix("HTTP/1.1 404") || answer.hasPrefix("HTTP/1.1 431"),
                    "GET \(path.prefix(100)): \(answer.prefix(200))")
            await conn.close()
        }
        // RTSP players.
        for target in ["live/../../\(m)", "../../\(m)", "live/%2e%2e/%2e%2e/\(m)", "live/..%2F..%2F\(m)", "%2Fetc%2Fpasswd",
                       "live/x%00", "live/..%5C\(m)", "live/ok/../../../\(m)"] {
            let conn = try await RawConnection.connect(port: server.rtspPort)
            let url = "rtsp://127.0.0.1:\(server.rtspPort)/\(target)"
            try await conn.send(Array("DESCRIBE \(url) RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n".utf8))
            let answer = String(buffer: await conn.waitReceived(12, seconds: 5))
            #expect(answer.hasPrefix("RTSP/1.0 400") || answer.hasPrefix("RTSP/1.0 404"), "DESCRIBE \(url): \(answer.prefix(200))")
            await conn.close()
        }

        // Every bad publisher is turned away (ffmpeg exits with an error) and made no stream.
        for (p, name) in zip(refused, names) {
            let status = await p.wait(seconds: 5)
            #expect(status != nil && status != 0, "publish app \(name.app) name \(name.path.prefix(60)): still running or accepted")
        }
        #expect(server.server.context.registry.sources.map(\.id) == ["live/ok"])

        // The good publisher records inside the record dir, and nothing was written anywhere else.
        var recordings: [String] = []
        for _ in 0..<100 where recordings.isEmpty {
            recordings = sandbox.recordings()
            if recordings.isEmpty { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        #expect(!recordings.isEmpty && recordings.allSatisfy { $0.hasPrefix("live/ok/") }, "\(recordings)")
        good.terminate()
        await server.stop()
        #expect(sandbox.escapes().isEmpty, "\(sandbox.escapes())")
        #expect(sandbox.recordings().allSatisfy { $0.hasPrefix("live/ok/") }, "\(sandbox.recordings())")
    }

    /// The token guards every method (HEAD, OPTIONS, unknown ones), paths with `..` or doubled
    /// slashes, and answers 401 before reading a body; only `Authorization: Bearer <token>` opens.
    @Test func tokenGuardsEveryMethodPathAndBody() async throws {
        let token = "s3cret-token"
        let server = try await TestServer.start(admin: ", \"token\": \"\(token)\", \"max_body_bytes\": 2048")
        let anonymous = AdminHTTP(port: server.adminPort)
        let authorized = AdminHTTP(port: server.adminPort, token: token)

        for route in RelayServer.adminRoutes {
            let path = route.path.replacingOccurrences(of: "{stream}", with: "live/x").replacingOccurrences(of: "{id}", with: "1")
            for method in ["HEAD", "OPTIONS", "PUT", "PATCH", "TRACE", "PROPFIND"] {
                let r = try await anonymous.request(method, path)
                #expect(r.status == 401, "\(method) \(path) without a token: \(r.status) \(r.text)")
            }
            // A method the HTTP parser does not know never reaches the API: 400 from the HTTP layer.
            let unknown = try await anonymous.request("FOO", path)
            #expect(unknown.status == 400 || unknown.status == 401, "FOO \(path): \(unknown.status)")
        }
        for path in ["/api/v1/../metrics", "/metrics/../api/v1/server", "//metrics", "/api/v1//server", "/api/v1/server/",
                     "/api/v1/streams/..%2F..%2Fmetrics", "/%2E%2E/metrics", "/metrics?token=\(token)",
                     "/api/v1/server?access_token=\(token)", "*", "/console/../api/v1/server"] {
            let r = try await anonymous.get(path)
            #expect(r.status == 401 || (path.hasPrefix("/console") && r.status == 404),
                    "GET \(path) without a token: \(r.status) \(r.text)")
        }
        // The web console's page is served without the token (it holds no data; every API call it
        // makes carries the token, asked for on 401).
        let page = try await anonymous.get("/")
        #expect(page.status == 200 && page.text.contains("<title>LiveRelay console</title>"), "GET / \(page.status)")
        for header in ["Bearer", "Bearer ", "Bearer  \(token)", "Bearer \(token)x", "Bearer \(token.dropLast())", "Basic \(token)",
                       "Token \(token)", token, "Bearer \(token.uppercased())", "Bearer\t\(token)"] {
            let r = try await anonymous.request("GET", "/api/v1/server", headers: ["Authorization": header])
            #expect(r.status == 401, "Authorization: \(header.debugDescription): \(r.status)")
        }
        // A body without a token: 401 whatever its size, never read into memory first.
        let declared = try await anonymous.request("POST", "/api/v1/hooks/reload",
                                                   headers: ["Content-Length": "10000000000", "Content-Type": "application/json"],
                                                   timeout: 5)
        #expect(declared.status == 401, "\(declared.status) \(declared.text)")
        let big = try await anonymous.request("POST", "/api/v1/gb28181/receivers", body: Array(repeating: 0x20, count: 1 << 20))
        #expect(big.status == 401)

        // With the token: bodies still bounded (Content-Length, chunked in many chunks), on both POST routes.
        for route in ["/api/v1/hooks/reload", "/api/v1/gb28181/receivers"] {
            let tooLarge = try await authorized.post(route, json: "{\"x\": \"" + String(repeating: "x", count: 4000) + "\"}")
            #expect(tooLarge.status == 413, "\(route): \(tooLarge.status) \(tooLarge.text)")
            #expect(tooLarge.value["status"]?.int == 413)
            var chunked = ""
            for _ in 0..<10 { chunked += "190\r\n" + String(repeating: " ", count: 0x190) + "\r\n" }
            chunked += "0\r\n\r\n"
            let r = try await authorized.request("POST", route, body: Array(chunked.utf8),
                                                 headers: ["Transfer-Encoding": "chunked", "Content-Type": "application/json"])
            #expect(r.status == 413, "\(route) chunked: \(r.status) \(r.text)")
            #expect(r.value["status"]?.int == 413)
            let declaredHuge = try await authorized.request("POST", route,
                                                            headers: ["Content-Length": "10000000000", "Content-Type": "application/json"],
                                                            timeout: 5)
            #expect(declaredHuge.status == 413, "\(route) declaring 10 GB: \(declaredHuge.status) \(declaredHuge.text)")
        }
        #expect(try await authorized.request("HEAD", "/api/v1/server").status == 200)
        #expect(try await authorized.get("/metrics").status == 200)
        await server.stop()
    }
}
