import Foundation
import RelayCore

/// A GB platform's side of the ZLMediaKit dialect: form-encoded POSTs to `/index/api/ROUTE`
/// with `secret` first (wvp-GB28181-pro `media/zlm/ZLMRESTfulUtils.java` `sendPost`), and
/// getSnap as a GET (`sendGetForImg`), over real HTTP to a listener of the server.
struct ZLMClient {
    let port: Int
    let secret: String

    /// The reply's JSON; the transport must be HTTP 200 (the dialect's errors are codes).
    func call(_ route: String, _ params: KeyValuePairs<String, String> = [:]) async throws -> JSONValue {
        let response = try await post(route, params)
        guard response.status == 200, let json = response.json else {
            throw ZLMClientError.notJSON(route, response.status, response.text)
        }
        return json
    }

    func post(_ route: String, _ params: KeyValuePairs<String, String>) async throws -> AdminHTTP.Response {
        let form = ([("secret", secret)] + params.map { ($0.key, $0.value) }).map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }
            .joined(separator: "&")
        return try await AdminHTTP(port: port).request("POST", "/index/api/\(route)", body: Array(form.utf8),
                                                       headers: ["Content-Type": "application/x-www-form-urlencoded"])
    }

    func get(_ route: String, _ params: KeyValuePairs<String, String>, timeout: Double = 30) async throws -> AdminHTTP.Response {
        let query = ([("secret", secret)] + params.map { ($0.key, $0.value) }).map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }
            .joined(separator: "&")
        return try await AdminHTTP(port: port).request("GET", "/index/api/\(route)?\(query)", timeout: timeout)
    }

    static func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

enum ZLMClientError: Error {
    case notJSON(String, Int, String)
}
