public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import ParleyPKI
public import ParleyStore
import ParleyWire
public import ServiceLifecycle
import Synchronization

/// The listener (DESIGN §2): TCP, mutual TLS, frames, calls. A `Service`:
/// graceful shutdown stops accepting, sends GoAway to every connection, lets
/// in-flight calls finish within the grace period, then closes what is left.
public final class ParleyServer: Service, Sendable {
    private let configuration: ServerConfiguration
    private let sslContext: NIOSSLContext
    private let dependencies: ConnectionHandler.Dependencies
    private let servingState: ServingState
    private let logger: Logger
    private let bound: EventLoopPromise<SocketAddress>
    private let balancer: LoopBalancer

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
                idempotency: idempotency.map {
                    IdempotencyGate(store: $0, maxKeyBytes: configuration.limits.maxIdempotencyKeyBytes, clock: clock, logger: logger)
                },
                logger: logger
            ),
            configuration: configuration,
            revocations: revocations,
            registry: registry,
            principals: ConnectionQuota(limit: configuration.limits.maxConnectionsPerPrincipal),
            principalRefusals: RefusalLog(),
            metrics: metrics,
            logger: logger
        )
        self.servingState = servingState
        self.logger = logger
        self.bound = group.next().makePromise()
        self.balancer = LoopBalancer(loops: Array(group.makeIterator()))
        revocations.observe { registry.forEach { $0.recheckRevocation() } }
    }

    /// The address the listener bound (useful with port 0). Waits until bound.
    public func localAddress() async throws -> SocketAddress {
        try await bound.futureResult.get()
    }

    /// The GoAway every connection gets on shutdown.
    private static let shuttingDown = RPCError(code: .unavailable, message: "the server is shutting down")

    /// Open connections right now.
    public var connectionCount: Int { dependencies.registry.count }

    /// Open connections on each event loop of the group, in the group's
    /// order. The listener places each new connection on the loop with the
    /// fewest, so these differ by at most one unless connections close.
    public var connectionsPerLoop: [Int] { balancer.openPerLoop }

    public func run() async throws {
        let acceptor: Acceptor
        do {
            acceptor = try Acceptor(host: configuration.host, port: configuration.port, backlog: 1024, logger: logger)
        } catch {
            bound.fail(error)
            throw error
        }
        bound.succeed(acceptor.address)
        logger.info("listening", metadata: ["address": "\(acceptor.address)"])

        let balancer = self.balancer
        let logger = self.logger
        let servingState = self.servingState
        let registry = dependencies.registry
        let metrics = dependencies.metrics
        let maxConnections = configuration.limits.maxConnections
        let refusals = RefusalLog()
        let addressQuota = ConnectionQuota<String>(limit: configuration.limits.maxConnectionsPerAddress)
        let addressRefusals = RefusalLog()
        let handshakeQuota = ConnectionQuota<String>(limit: configuration.limits.maxPendingHandshakesPerAddress)
        let handshakeRefusals = RefusalLog()
        // Over a limit: closed before TLS, costing no handshake; counted, and
        // logged at most once a second per limit.
        let refuse: @Sendable (CInt, RefusalLog, Logger.Message, Logger.Metadata) -> Void = { descriptor, log, message, metadata in
            metrics.connectionRefused()
            Acceptor.refuse(descriptor)
            if let refused = log.due() {
                logger.warning(message, metadata: metadata.merging(["refused": "\(refused)"]) { $1 })
            }
        }
        var failure: (any Error)?
        do {
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await acceptor.run { descriptor, peer in
                        guard balancer.open < maxConnections else {
                            refuse(descriptor, refusals, "connection limit reached; closing new connections", ["max_connections": "\(maxConnections)"])
                            return
                        }
                        guard addressQuota.take(peer) else {
                            refuse(
                                descriptor,
                                addressRefusals,
                                "per-address connection limit reached; closing new connections from it",
                                ["peer": "\(peer)", "max_connections_per_address": "\(addressQuota.limit)"]
                            )
                            return
                        }
                        guard handshakeQuota.take(peer) else {
                            addressQuota.release(peer)
                            refuse(
                                descriptor,
                                handshakeRefusals,
                                "per-address limit on connections still in their TLS handshake reached; closing new connections from it",
                                ["peer": "\(peer)", "max_pending_handshakes_per_address": "\(handshakeQuota.limit)"]
                            )
                            return
                        }
                        let handshake = QuotaSlot { handshakeQuota.release(peer) }
                        let lease = balancer.take {
                            addressQuota.release(peer)
                            handshake.release()
                        }
                        logger.debug("accepted a connection", metadata: ["loop": "\(lease.index)", "open_per_loop": "\(balancer.openPerLoop)"])
                        self.connectionBootstrap(on: lease, handshake: handshake).withConnectedSocket(descriptor).whenFailure { error in
                            lease.release()
                            logger.warning("could not set up an accepted connection", metadata: ["error": "\(error)"])
                        }
                    }
                } onCancel: {
                    acceptor.stop()
                }
            } onGracefulShutdown: {
                servingState.set(.draining)
                acceptor.stop()
                registry.forEach {
                    $0.beginGracefulShutdown(reason: Self.shuttingDown)
                }
            }
        } catch {
            // The listener failed: the connections still open are drained
            // as on shutdown, then the daemon learns why.
            logger.error("the listener stopped accepting", metadata: ["error": "\(error)"])
            failure = error
        }
        await drain()
        if let failure { throw failure }
    }

    /// How an accepted socket becomes a connection on the leased loop:
    /// TCP_NODELAY, the write-buffer marks, then TLS, back-pressure, frames
    /// and calls. The lease ends when the channel closes; the `handshake`
    /// slot when the TLS handshake completes, or with the lease.
    private func connectionBootstrap(on lease: LoopBalancer.Lease, handshake: QuotaSlot) -> ClientBootstrap {
        let sslContext = self.sslContext
        let dependencies = self.dependencies
        let limits = configuration.limits
        return ClientBootstrap(group: lease.loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(
                .writeBufferWaterMark,
                value: .init(low: limits.writeBufferLowWaterMark, high: limits.writeBufferHighWaterMark)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    channel.closeFuture.whenComplete { _ in lease.release() }
                    let tls = NIOSSLServerHandler(context: sslContext)
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(tls)
                    try pipeline.addHandler(HandshakeSlotHandler(slot: handshake))
                    // Stops reading while the peer does not read our replies:
                    // nothing is buffered without bound for one connection.
                    try pipeline.addHandler(BackPressureHandler())
                    try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: limits.maxFrameBytes)))
                    try pipeline.addHandler(ConnectionHandler(dependencies: dependencies, tlsHandler: tls))
                }
            }
    }

    /// Waits for connections to finish their calls, up to the grace period,
    /// then closes whatever is left. A connection counts from its accept, so
    /// one still being set up when shutdown began is waited for too; GoAway
    /// is sent again on every poll, reaching it once it has registered.
    private func drain() async {
        servingState.set(.draining)
        let registry = dependencies.registry
        let balancer = self.balancer
        let clock = ContinuousClock()
        let giveUp = clock.now + configuration.timeouts.shutdownGrace
        while balancer.open > 0 && clock.now < giveUp {
            registry.forEach { $0.beginGracefulShutdown(reason: Self.shuttingDown) }
            await pause(.milliseconds(10))
        }
        if balancer.open > 0 {
            logger.warning("grace period over; closing connections", metadata: ["open": "\(balancer.open)"])
            let hardStop = clock.now + .seconds(2)
            while balancer.open > 0 && clock.now < hardStop {
                registry.forEach { $0.forceClose() }
                await pause(.milliseconds(10))
            }
        }
        logger.info("listener stopped")
    }

    /// Waits `duration` on an event loop's timer: unlike `Task.sleep`, it
    /// still waits in a cancelled task, which drain must.
    private func pause(_ duration: TimeAmount) async {
        let loop = balancer.loops[0]
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.scheduleTask(in: duration) {}.futureResult.whenComplete { _ in done.resume() }
        }
    }
}

/// Gives back a connection's pending-handshake slot
/// (`limits.max_pending_handshakes_per_address`) once its TLS handshake
/// has completed, then leaves the pipeline.
private final class HandshakeSlotHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let slot: QuotaSlot

    init(slot: QuotaSlot) {
        self.slot = slot
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            slot.release()
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
