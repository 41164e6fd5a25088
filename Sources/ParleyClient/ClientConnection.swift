import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ParleyWire
import Synchronization

/// One TLS connection and its handler.
final class ClientConnection: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<ClientConnectionHandler>
    private let flags: Flags

    /// Shared with the handler, which clears `usable` on GoAway.
    final class Flags: Sendable {
        let usable = Atomic<Bool>(true)
    }

    private init(channel: any Channel, handler: NIOLoopBound<ClientConnectionHandler>, flags: Flags) {
        self.channel = channel
        self.handler = handler
        self.flags = flags
    }

    /// The event loop this connection lives on.
    var eventLoop: any EventLoop { channel.eventLoop }

    /// Runs `body` on the connection's event loop: at once when already
    /// there (no thread hop), otherwise by scheduling it.
    private func onEventLoop(_ body: @escaping @Sendable (ClientConnectionHandler) -> Void) {
        let handler = self.handler
        if handler.eventLoop.inEventLoop {
            body(handler.value)
        } else {
            handler.eventLoop.execute { body(handler.value) }
        }
    }

    /// False once the server sent GoAway or the connection closed: new calls go elsewhere.
    var isUsable: Bool { flags.usable.load(ordering: .relaxed) && channel.isActive }

    static func connect(
        configuration: ClientConfiguration,
        sslContext: NIOSSLContext,
        eventLoop: any EventLoop
    ) async throws -> ClientConnection {
        let serverName = configuration.tls.serverName ?? configuration.host
        let maxFrameBytes = configuration.maxFrameBytes
        let flags = Flags()
        let ready = eventLoop.makePromise(of: Void.self)
        let handlerPromise = eventLoop.makePromise(of: NIOLoopBound<ClientConnectionHandler>.self)
        let connectTimeout = TimeAmount(configuration.connectTimeout)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // SNI and certificate names: IP literals are checked against IP SANs.
                        let isIP = (try? SocketAddress(ipAddress: serverName, port: 0)) != nil
                        let tls = try NIOSSLClientHandler(context: sslContext, serverHostname: isIP ? nil : serverName)
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(tls)
                        try sync.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
                        let handler = ClientConnectionHandler(ready: ready, onGoAway: { flags.usable.store(false, ordering: .relaxed) })
                        try sync.addHandler(handler)
                        handlerPromise.succeed(NIOLoopBound(handler, eventLoop: channel.eventLoop))
                    }
                }
                .connect(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            ready.fail(error)
            handlerPromise.fail(error)
            throw RPCError(
                code: .unavailable,
                message: "cannot connect to \(configuration.host):\(configuration.port): \(error) (is parleyd running?)",
                cause: error
            )
        }
        let timeout = channel.eventLoop.scheduleTask(in: connectTimeout) {
            ready.fail(RPCError(code: .unavailable, message: "TLS handshake with \(configuration.host):\(configuration.port) timed out"))
        }
        do {
            try await ready.futureResult.get()
            timeout.cancel()
        } catch {
            timeout.cancel()
            channel.close(promise: nil)
            throw ClientErrors.map(error)
        }
        let handler = try await handlerPromise.futureResult.get()
        return ClientConnection(channel: channel, handler: handler, flags: flags)
    }

    private final class CallToken: Sendable {
        struct State { var id: UInt32?; var cancelled = false }
        let state = Mutex(State())
    }

    func unary(method: String, request: Data, timeout: Duration, metadata: [String: String]) async throws -> Data {
        let token = CallToken()
        let handler = self.handler
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Data, any Error>) in
                self.onEventLoop { handler in
                    if token.state.withLock({ $0.cancelled }) {
                        continuation.resume(throwing: RPCError(code: .cancelled, message: "cancelled by the caller"))
                        return
                    }
                    let id = handler.start(
                        method: method,
                        request: request,
                        timeout: timeout,
                        metadata: metadata,
                        pending: .unary(continuation)
                    )
                    if !handler.isUsable { self.flags.usable.store(false, ordering: .relaxed) }
                    let cancelled = token.state.withLock { state -> Bool in
                        state.id = id
                        return state.cancelled
                    }
                    // Cancelled between sending and recording the id: cancel now.
                    if cancelled, let id { handler.cancel(id: id) }
                }
            }
        } onCancel: {
            let id = token.state.withLock { state -> UInt32? in
                state.cancelled = true
                return state.id
            }
            if let id { handler.eventLoop.execute { handler.value.cancel(id: id) } }
        }
    }

    func serverStreaming(method: String, request: Data, timeout: Duration, metadata: [String: String]) async throws
        -> AsyncThrowingStream<Data, any Error>
    {
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        let handler = self.handler
        let token = CallToken()
        handler.eventLoop.execute {
            let id = handler.value.start(
                method: method,
                request: request,
                timeout: timeout,
                metadata: metadata,
                pending: .stream(continuation)
            )
            let cancelled = token.state.withLock { state -> Bool in
                state.id = id
                return state.cancelled
            }
            if cancelled, let id { handler.value.cancel(id: id) }
        }
        continuation.onTermination = { termination in
            guard case .cancelled = termination else { return }
            let id = token.state.withLock { state -> UInt32? in
                state.cancelled = true
                return state.id
            }
            if let id { handler.eventLoop.execute { handler.value.cancel(id: id) } }
        }
        return stream
    }

    func ping() async throws -> Duration {
        let handler = self.handler
        return try await withCheckedThrowingContinuation { continuation in
            handler.eventLoop.execute { handler.value.ping(continuation: continuation) }
        }
    }

    func close() async {
        flags.usable.store(false, ordering: .relaxed)
        let handler = self.handler
        handler.eventLoop.execute { handler.value.sendGoAway() }
        try? await channel.close()
    }
}
