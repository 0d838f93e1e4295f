import Foundation
import Hummingbird
import Logging
import NIOCore
import RelayCore

/// The web console's files (Console/: index.html, app.js, style.css), read once when the admin
/// router is built and served from memory: `/` is index.html, `/console/NAME` the others.
struct ConsoleFiles: Sendable {
    struct File: Sendable {
        var body: ByteBuffer
        var contentType: String
    }

    let files: [String: File]

    subscript(name: String) -> File? { files[name] }

    /// A file larger than this is not a console file (the folder holds a few small text files).
    static let maxFileBytes = 1 << 20

    /// The files of the `Console` resource folder; none (and one log line) when it is missing.
    static func load(logger: Logger) -> ConsoleFiles {
        guard let folder = folder() else {
            logger.warning("web console: its files (LiveRelay_RelayAdmin.resources/Console) are not next to the executable; / answers 404")
            return ConsoleFiles(files: [:])
        }
        return load(folder: folder, logger: logger)
    }

    static func load(folder: URL, logger: Logger) -> ConsoleFiles {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var files: [String: File] = [:]
        for name in names where isFileName(name[...]) {
            let url = folder.appendingPathComponent(name)
            guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int,
                  size <= maxFileBytes, let data = try? Data(contentsOf: url) else {
                logger.warning("web console: skipped \(name) (not a readable file of at most \(maxFileBytes) bytes)")
                continue
            }
            files[name] = File(body: ByteBuffer(bytes: data), contentType: contentType(of: name))
        }
        return ConsoleFiles(files: files)
    }

    /// Where SwiftPM puts the module's resources: a bundle beside the executable (or beside the
    /// test bundle). Looked up by hand because `Bundle.module` traps when the bundle is missing
    /// (a binary copied elsewhere without it), and a request must not end the process.
    private static func folder() -> URL? {
        var places = [Bundle.main.bundleURL, Bundle(for: Anchor.self).bundleURL.deletingLastPathComponent()]
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() { places.append(exe) }
        let bundles = ["LiveRelay_RelayAdmin.resources", "LiveRelay_RelayAdmin.bundle/Contents/Resources", "LiveRelay_RelayAdmin.bundle"]
        for place in places {
            for bundle in bundles {
                let url = place.appendingPathComponent(bundle).appendingPathComponent("Console")
                if FileManager.default.fileExists(atPath: url.appendingPathComponent("index.html").path) { return url }
            }
        }
        return nil
    }

    private final class Anchor {}

    /// A plain file name: letters, digits, `-_.`, not starting with a dot (no `..`, no slash).
    static func isFileName(_ name: Substring) -> Bool {
        guard let first = name.first, first != ".", name.count <= 64 else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
        }
    }

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": return "text/html; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "json": return "application/json"
        default: return "application/octet-stream"
        }
    }

    /// The console file a request path names: "/" is index.html, "/console/NAME" is NAME; nil
    /// for a path that is not the console's. A console path with anything but a plain file name
    /// after `/console/` (`..`, a slash, an escape) names "" — no file, a 404.
    static func name(forPath path: String) -> String? {
        if path == "/" { return "index.html" }
        let prefix = "/console/"
        guard path.hasPrefix(prefix) else { return nil }
        let rest = path.dropFirst(prefix.count)
        return isFileName(rest) ? String(rest) : ""
    }
}

/// Serves the console's files ahead of the admin token: they hold no data (the page asks for
/// the token when the API answers 401, and sends it with every call it makes).
struct ConsoleMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let files: ConsoleFiles

    /// The page may talk to the players' port on the same host (another origin: its port); it
    /// loads nothing from elsewhere.
    static let securityPolicy = "default-src 'self'; connect-src 'self' http: https: ws: wss:; media-src 'self' blob:; "
        + "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head,
              let name = ConsoleFiles.name(forPath: request.uri.path) else {
            return try await next(request, context)
        }
        guard let file = files[name] else {
            throw AdminError(.notFound, "no such console file: \(printable(request.uri.path))")
        }
        let headers: HTTPFields = [
            .contentType: file.contentType,
            .contentLength: String(file.body.readableBytes),
            .cacheControl: "no-cache",
            .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy: Self.securityPolicy,
        ]
        let body: ResponseBody = request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: file.body)
        return Response(status: .ok, headers: headers, body: body)
    }
}
