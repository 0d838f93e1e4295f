import NIOCore

/// The STUN messages of ICE (RFC 8445 7): what the relay (ICE-lite) answers, and the request a
/// controlling full-ICE client sends (relay-bench's WHEP player, tests).
public enum STUN {
    /// Success answer to a binding request: XOR-MAPPED-ADDRESS of the peer, MESSAGE-INTEGRITY with
    /// `password` (ours), FINGERPRINT.
    public static func bindingSuccess(transactionID: [UInt8], mapped: SocketAddress, password: String) -> ByteBuffer {
        var writer = STUNWriter(method: STUNMessage.bindingMethod, class: .success, transactionID: transactionID)
        writer.appendXORAddress(mapped)
        writer.appendIntegrity(password: password)
        writer.appendFingerprint()
        return writer.buffer
    }

    /// 400/401/487 error answer (ERROR-CODE, FINGERPRINT; integrity when `password` given). A code
    /// outside 300...699 is sent as 500; the reason is cut to 127 characters (RFC 5389 15.6).
    public static func bindingError(transactionID: [UInt8], code: Int, reason: String, password: String?) -> ByteBuffer {
        var writer = STUNWriter(method: STUNMessage.bindingMethod, class: .error, transactionID: transactionID)
        let code = (300...699).contains(code) ? code : 500
        let value = [0, 0, UInt8(code / 100), UInt8(code % 100)] + Array(String(reason.prefix(127)).utf8)
        writer.append(STUNMessage.Attribute.errorCode, value)
        if let password {
            writer.appendIntegrity(password: password)
        }
        writer.appendFingerprint()
        return writer.buffer
    }

    /// A binding request as a controlling full-ICE client sends it: USERNAME "remoteUfrag:localUfrag",
    /// PRIORITY, ICE-CONTROLLING, USE-CANDIDATE when asked, MESSAGE-INTEGRITY with the remote
    /// password, FINGERPRINT.
    public static func bindingRequest(transactionID: [UInt8], username: String, password: String, priority: UInt32,
                                      tieBreaker: UInt64, useCandidate: Bool) -> ByteBuffer {
        var writer = STUNWriter(method: STUNMessage.bindingMethod, class: .request, transactionID: transactionID)
        writer.append(STUNMessage.Attribute.username, Array(username.utf8.prefix(STUNMessage.maxUsername)))
        writer.append(STUNMessage.Attribute.priority, integer: priority)
        writer.append(STUNMessage.Attribute.iceControlling, integer: tieBreaker)
        if useCandidate {
            writer.append(STUNMessage.Attribute.useCandidate, [UInt8]())
        }
        writer.appendIntegrity(password: password)
        writer.appendFingerprint()
        return writer.buffer
    }
}
