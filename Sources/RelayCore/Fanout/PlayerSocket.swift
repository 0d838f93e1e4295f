import NIOCore

/// Socket settings shared by every player listener.
public enum PlayerSocket {
    /// "Not writable" starts the slow-player policy; the high mark bounds what a healthy player
    /// may have in flight (a GOP burst at start fits).
    public static func waterMark(_ config: RelayConfig.Player) -> ChannelOptions.Types.WriteBufferWaterMark {
        let high = max(64 << 10, min(config.maxPendingBytes / 2, 2 << 20))
        return .init(low: high / 2, high: high)
    }

    public static func applySendBuffer(_ config: RelayConfig.Player, to channel: any Channel) {
        guard config.sendBufferBytes > 0 else { return }
        _ = try? channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: config.sendBufferBytes)
    }
}
