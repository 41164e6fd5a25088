public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
import ParleyPKI
public import ParleyStore
import ParleyWire
public import ServiceLifecycle

/// The listener (DESIGN §2): TCP, mutual TLS, frames, calls. A `Service`:
/// graceful shutdown stops accepting, sends GoAway to every connection, lets
/// in-flight calls finish within the grace period, then closes what is left.
public final class ParleyServer: Service, Sendable {
    private let configuration: ServerConfiguration
    private let sslContext: NIOSSLContext
    private let dependencies: ConnectionHandler.Dependencies
    private let servingState: ServingState
    private let group: any EventLoopGroup
    private let logger: Logger
    private let bound: EventLoopPromise<SocketAddress>

    /// Builds the TLS context now (reading certificate files), off any event loop.
    public init(
        configuration: ServerConfiguration,
        router: Router,
        idempotency: IdempotencyStore?,
        clock: any WallClock,
        revocations: RevocationList,
        servingState: ServingState,
        metrics: ServerMetrics,
        group: any EventLoopGroup,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.sslContext = try NIOSSLContext(configuration: configuration.tls.makeTLSConfiguration())
        let registry = ConnectionRegistry()
        self.dependencies = ConnectionHandler.Dependencies(
            router: router,
            environment: CallEnvironment(
                idempotency: idempotency.map { IdempotencyGate(store: $0, clock: clock, logger: logger) },
                logger: logger
            ),
            configuration: configuration,
            revocations: revocations,
            registry: registry,
            metrics: metrics,
            logger: logger
        )
        self.servingState = servingState
        self.group = group
        self.logger = logger
        self.bound = group.next().makePromise()
        revocations.observe { registry.forEach { $0.recheckRevocation() } }
    }

    /// The address the listener bound (useful with port 0). Waits until bound.
    public func localAddress() async throws -> SocketAddress {
        try await bound.futureResult.get()
    }

    /// Open connections right now.
    public var connectionCount: Int { dependencies.registry.count }

    public func run() async throws {
        let sslContext = self.sslContext
        let dependencies = self.dependencies
        let limits = configuration.limits
        let serverChannel: NIOAsyncChannel<Void, Never>
        do {
            serverChannel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(
                    .writeBufferWaterMark,
                    value: .init(low: limits.writeBufferLowWaterMark, high: limits.writeBufferHighWaterMark)
                )
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let tls = NIOSSLServerHandler(context: sslContext)
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(tls)
                        // Stops reading while the peer does not read our replies:
                        // nothing is buffered without bound for one connection.
                        try pipeline.addHandler(BackPressureHandler())
                        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: limits.maxFrameBytes)))
                        try pipeline.addHandler(ConnectionHandler(dependencies: dependencies, tlsHandler: tls))
                    }
                }
        } catch {
            bound.fail(error)
            throw error
        }
        guard let address = serverChannel.channel.localAddress else {
            bound.fail(ChannelError.inappropriateOperationForState)
            throw ChannelError.inappropriateOperationForState
        }
        bound.succeed(address)
        logger.info("listening", metadata: ["address": "\(address)"])

        let channel = serverChannel.channel
        let servingState = self.servingState
        let registry = dependencies.registry
        do {
            try await withGracefulShutdownHandler {
                try await serverChannel.executeThenClose { inbound in
                    for try await _ in inbound {}
                }
            } onGracefulShutdown: {
                servingState.set(.draining)
                channel.close(promise: nil)
                registry.forEach {
                    $0.beginGracefulShutdown(reason: RPCError(code: .unavailable, message: "the server is shutting down"))
                }
            }
        } catch {
            logger.debug("accept loop ended", metadata: ["error": "\(error)"])
        }
        await drain()
    }

    /// Waits for connections to finish their calls, up to the grace period,
    /// then closes whatever is left.
    private func drain() async {
        servingState.set(.draining)
        let registry = dependencies.registry
        registry.forEach { $0.beginGracefulShutdown(reason: RPCError(code: .unavailable, message: "the server is shutting down")) }
        let clock = ContinuousClock()
        let giveUp = clock.now + configuration.timeouts.shutdownGrace
        while registry.count > 0 && clock.now < giveUp {
            try? await clock.sleep(for: .milliseconds(10))
        }
        if registry.count > 0 {
            logger.warning("grace period over; closing connections", metadata: ["open": "\(registry.count)"])
            registry.forEach { $0.forceClose() }
            let hardStop = clock.now + .seconds(2)
            while registry.count > 0 && clock.now < hardStop {
                try? await clock.sleep(for: .milliseconds(10))
            }
        }
        logger.info("listener stopped")
    }
}
