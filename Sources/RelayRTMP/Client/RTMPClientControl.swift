import RelayFLV

/// What an RTMP client owes the server's control messages (spec 5.4): acknowledgements of the
/// window the server set, our window back when Set Peer Bandwidth announces another one, and
/// pongs. Shared by the pull client and the camera's publish session.
public struct RTMPClientControl: Sendable {
    private var acks: Acknowledgements
    private var announcedWindow: UInt32?

    public init(minimumWindow: UInt32) {
        acks = Acknowledgements(minimumWindow: minimumWindow)
    }

    /// Bytes read from the server (the acknowledgement count).
    public mutating func received(_ bytes: Int) {
        acks.received(bytes)
    }

    /// The acknowledgement to send now, if the window is used up.
    public mutating func acknowledgementDue() -> RTMPMessage? {
        acks.due()
    }

    /// The answer `control` asks for; nil when none (chunk size is applied by the decoder).
    public mutating func answer(_ control: RTMPControlMessage) -> RTMPMessage? {
        switch control {
        case .windowAckSize(let size):
            acks.setWindow(size)
            return nil
        case .setPeerBandwidth(let size, _):
            // Spec 5.4.5: answer with our window when it differs from the one announced.
            guard announcedWindow != size else { return nil }
            announcedWindow = size
            return .windowAckSize(size)
        case .userControl(.pingRequest(let timestamp)):
            return .userControl(.pingResponse(timestamp: timestamp))
        default:
            return nil
        }
    }
}

extension RTMPMessage {
    /// A player's `connect` (the object ffmpeg sends when it plays): the pull client's and relay-bench's.
    public static func playerConnect(_ url: RTMPURL, transactionID: Double = 1, chunkStreamID: UInt32 = 3) -> RTMPMessage {
        .command(name: "connect", transactionID: transactionID, commandObject: .object([
            AMF0Property(key: "app", value: .string(url.app)),
            AMF0Property(key: "flashVer", value: .string("LNX 9,0,124,2")),
            AMF0Property(key: "tcUrl", value: .string(url.tcURL)),
            AMF0Property(key: "fpad", value: .boolean(false)),
            AMF0Property(key: "capabilities", value: .number(15)),
            AMF0Property(key: "audioCodecs", value: .number(4071)),
            AMF0Property(key: "videoCodecs", value: .number(252)),
            AMF0Property(key: "videoFunction", value: .number(1)),
        ]), arguments: [], chunkStreamID: chunkStreamID)
    }
}
