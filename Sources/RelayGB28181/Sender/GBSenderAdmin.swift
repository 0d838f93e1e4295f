import RelayCore

/// The cascade-sender endpoints of the admin API (`/api/v1/gb28181/senders`).
extension GB28181Service {
    var senderEndpoints: [AdminEndpoint] { [] }
}
