import NIOCore

/// A response the server writes; CSeq and Session are added when it is encoded.
struct RTSPResponse {
    var status: Int
    var headers: [(String, String)] = []
    var body: String = ""
    var contentType: String?

    init(_ status: Int, headers: [(String, String)] = [], body: String = "", contentType: String? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.contentType = contentType
    }

    static let server = "LiveRelay"

    func encoded(cseq: String?, session: String? = nil) -> ByteBuffer {
        var text = "RTSP/1.0 \(status) \(Self.reason(status))\r\n"
        if let cseq { text += "CSeq: \(cseq)\r\n" }
        text += "Server: \(Self.server)\r\n"
        if let session { text += "Session: \(session)\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty {
            text += "Content-Type: \(contentType ?? "text/plain")\r\nContent-Length: \(body.utf8.count)\r\n"
        }
        text += "\r\n" + body
        return ByteBuffer(string: text)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 413: return "Request Entity Too Large"
        case 415: return "Unsupported Media Type"
        case 454: return "Session Not Found"
        case 455: return "Method Not Valid in This State"
        case 459: return "Aggregate Operation Not Allowed"
        case 461: return "Unsupported Transport"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "RTSP Version Not Supported"
        case 551: return "Option not supported"
        default: return "Error"
        }
    }
}
