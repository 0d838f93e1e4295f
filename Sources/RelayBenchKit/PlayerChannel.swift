import NIOCore

/// Socket controls the bench players share.
extension Channel {
    /// SO_RCVBUF, set from the channel initializer (before connect, so the window advertised is
    /// this one); 0 leaves the kernel's autotuning.
    func setReceiveBuffer(_ bytes: Int) throws {
        guard bytes > 0 else { return }
        try syncOptions?.setOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(bytes))
    }

    /// Stops (a viewer whose network or app stalls: the server's writes back up) or resumes reading.
    func setReading(_ reading: Bool) async {
        try? await setOption(ChannelOptions.autoRead, value: reading).get()
    }
}
