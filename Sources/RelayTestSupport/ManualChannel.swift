import NIOCore

/// A Channel on a ManualLoop with no socket: inbound data is fired into its pipeline by the
/// harness, and every flushed outbound ByteBuffer goes to `onWrite` (a test's or fuzzer's checker) or is
/// dropped. Stands in for EmbeddedChannel, whose loop cannot be an actor executor.
public final class ManualChannel: Channel, ChannelCore, @unchecked Sendable {
    public let loop: ManualLoop
    public var eventLoop: any EventLoop { loop }
    public let allocator = ByteBufferAllocator()
    private var _pipeline: ChannelPipeline!
    public var pipeline: ChannelPipeline { _pipeline }
    private let closePromise: EventLoopPromise<Void>
    public var closeFuture: EventLoopFuture<Void> { closePromise.futureResult }
    public var localAddress: SocketAddress?
    public var remoteAddress: SocketAddress?
    public var parent: (any Channel)? { nil }
    public private(set) var isActive = false
    public private(set) var isOpen = true
    /// A test sets it false to stand for a peer that does not read (its buffers full).
    public var isWritable = true
    public var _channelCore: any ChannelCore { self }
    /// The first error that reached the end of the pipeline.
    public private(set) var error: (any Error)?
    /// Flushed outbound bytes, in order, one call per write.
    public var onWrite: ((ByteBuffer) -> Void)?
    public private(set) var bytesWritten = 0
    private var pending: [(NIOAny, EventLoopPromise<Void>?)] = []

    public init(loop: ManualLoop, local: SocketAddress? = nil, remote: SocketAddress? = nil) {
        self.loop = loop
        self.localAddress = local
        self.remoteAddress = remote
        self.closePromise = loop.makePromise()
        self._pipeline = ChannelPipeline(channel: self)
    }

    /// Registers and activates the channel (channelActive runs, as for an accepted connection).
    public func activate() {
        pipeline.syncOperations.fireChannelRegistered()
        isActive = true
        pipeline.syncOperations.fireChannelActive()
    }

    /// One read from the network.
    public func receive<T>(_ data: T) {
        guard isOpen else { return }
        pipeline.syncOperations.fireChannelRead(NIOAny(data))
        if isOpen { pipeline.syncOperations.fireChannelReadComplete() }
    }

    public func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> EventLoopFuture<Void> {
        loop.makeSucceededVoidFuture()
    }

    public func getOption<Option: ChannelOption>(_ option: Option) -> EventLoopFuture<Option.Value> {
        loop.makeFailedFuture(ChannelError.operationUnsupported)
    }

    // MARK: ChannelCore

    public func localAddress0() throws -> SocketAddress {
        guard let localAddress else { throw ChannelError.operationUnsupported }
        return localAddress
    }

    public func remoteAddress0() throws -> SocketAddress {
        guard let remoteAddress else { throw ChannelError.operationUnsupported }
        return remoteAddress
    }

    public func register0(promise: EventLoopPromise<Void>?) {
        promise?.succeed(())
    }

    public func registerAlreadyConfigured0(promise: EventLoopPromise<Void>?) {
        promise?.succeed(())
    }

    public func bind0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.succeed(())
    }

    public func connect0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.succeed(())
    }

    public func write0(_ data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard isOpen else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        pending.append((data, promise))
    }

    public func flush0() {
        let flushed = pending
        pending.removeAll()
        for (data, promise) in flushed {
            if let buffer = tryUnwrapData(data, as: ByteBuffer.self) {
                bytesWritten &+= buffer.readableBytes
                onWrite?(buffer)
            }
            promise?.succeed(())
        }
    }

    public func read0() {}

    public func close0(error: any Error, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard isOpen else {
            promise?.fail(ChannelError.alreadyClosed)
            return
        }
        isOpen = false
        isActive = false
        let unflushed = pending
        pending.removeAll()
        for (_, p) in unflushed { p?.fail(ChannelError.ioOnClosedChannel) }
        promise?.succeed(())
        pipeline.syncOperations.fireChannelInactive()
        pipeline.syncOperations.fireChannelUnregistered()
        loop.execute { [self] in
            removeHandlers(pipeline: pipeline)
            closePromise.succeed(())
        }
    }

    public func triggerUserOutboundEvent0(_ event: Any, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    public func channelRead0(_ data: NIOAny) {}

    public func errorCaught0(error: any Error) {
        if self.error == nil { self.error = error }
    }
}

extension ManualChannel {
    /// Collects every flushed write into `into` (a test reads it as the peer would).
    public func capture(into sink: WrittenBytes) {
        onWrite = { sink.append($0) }
    }
}

/// What a ManualChannel wrote, in order: the peer's side of a session test.
public final class WrittenBytes: @unchecked Sendable {
    public private(set) var buffer = ByteBuffer()

    public init() {}

    public func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        buffer.writeBuffer(&bytes)
    }

    /// Everything written since the last `take`.
    public func take() -> ByteBuffer {
        defer { buffer.clear() }
        return buffer
    }
}
