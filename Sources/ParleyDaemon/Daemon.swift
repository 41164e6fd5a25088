import Foundation
public import Logging
public import NIOCore
import NIOPosix
import ParleyOrders
import ParleyPKI
import ParleyWarehouse
public import ParleyServer
public import ParleyStore
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// A whole daemon assembled from a ``DaemonConfiguration``: the database,
/// the router with every service registered, the listener and the metrics
/// endpoint, run as one `ServiceGroup` in dependency order. `parleyd` and the
/// test harness both use this, so tests exercise exactly what ships.
public final class Daemon: Sendable {
    /// The daemon's version, reported by `Health/Check`.
    public static let version = "0.1.0"

    public let configuration: DaemonConfiguration
    public let database: ParleyDatabase
    public let server: ParleyServer
    public let metricsEndpoint: MetricsEndpoint?
    public let servingState: ServingState
    public let revocations: RevocationList
    public let prometheus: PrometheusCollectorRegistry
    /// The virtual warehouse subsystem.
    public let warehouse: Warehouse
    /// The Orders subsystem: merchants' set-up, negotiation, capture.
    public let orders: Orders
    private let logger: Logger
    private let group: ServiceGroup
    private let reloader: RevocationFileReloader

    /// Opens the database, loads revocations, builds TLS and the router.
    ///
    /// - Parameters:
    ///   - services: extra services to register (tests add their own methods).
    ///   - handleSignals: trap SIGTERM/SIGINT (graceful shutdown) and SIGHUP (reload the revocation file).
    public init(
        configuration: DaemonConfiguration,
        services: [any RegistrableService] = [],
        migrations: [StoreMigration] = [],
        clock: any WallClock = SystemWallClock(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        handleSignals: Bool = true,
        logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger

        let prometheus = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: prometheus)
        // Finer from 10 to 100 ms, where durable calls' tails lie (the
        // benchmark targets are p99 under 20 ms for Reserve and 40 ms for
        // Capture), so that a p99 can be placed from the buckets alone.
        factory.durationHistogramBuckets["parley_call_duration_seconds"] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(15), .milliseconds(20),
            .milliseconds(25), .milliseconds(30), .milliseconds(40), .milliseconds(50), .milliseconds(75),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        factory.valueHistogramBuckets["parley_store_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
        self.prometheus = prometheus

        // The store: every module's migrations, applied in order.
        let batchSizes = BatchSizeRelay()
        self.database = try ParleyDatabase.open(
            path: configuration.databasePath,
            migrations: RevocationStore.migrations + WarehouseSchema.migrations + OrdersSchema.migrations + migrations,
            configuration: configuration.store,
            onBatch: { batchSizes.record($0) }
        )

        // Identity: revocations from the database and the file.
        let revocations = RevocationList()
        self.revocations = revocations
        let admin = AdminService(revocations: revocations, store: RevocationStore(database: database), clock: clock)
        try admin.loadRevocations()
        let reloader = RevocationFileReloader(
            path: configuration.server.tls.revocationFilePath,
            revocations: revocations,
            handleSignals: handleSignals,
            logger: logger
        )
        try reloader.reload()
        self.reloader = reloader

        // The router: built-in services, then the subsystems.
        let servingState = ServingState()
        self.servingState = servingState
        var router = Router()
        router.register(HealthService(servingState: servingState, version: Self.version))
        router.register(admin)
        let warehouse = Warehouse(database: database, configuration: configuration.warehouse, clock: clock, logger: logger)
        self.warehouse = warehouse
        router.register(WarehouseService(warehouse: warehouse))
        let orders = try Orders(
            database: database,
            warehouse: warehouse,
            clock: clock,
            logger: logger,
            processor: SimulatedPaymentProcessor(database: database, clock: clock, latency: configuration.paymentLatency),
            captureExecutor: WorkLoops.executor
        )
        self.orders = orders
        router.register(MerchantService(orders: orders))
        router.register(OrdersService(orders: orders))
        for service in services { router.register(service) }

        let metrics = ServerMetrics(factory: factory, paths: router.paths)
        batchSizes.target = metrics
        self.server = try ParleyServer(
            configuration: configuration.server,
            router: router,
            idempotency: IdempotencyStore(database: database, retention: configuration.idempotencyRetention),
            clock: clock,
            revocations: revocations,
            servingState: servingState,
            metrics: metrics,
            group: eventLoopGroup,
            logger: logger
        )
        if configuration.metrics.enabled {
            self.metricsEndpoint = MetricsEndpoint(
                host: configuration.metrics.host,
                port: configuration.metrics.port,
                registry: prometheus,
                servingState: servingState,
                group: eventLoopGroup,
                logger: logger
            )
        } else {
            self.metricsEndpoint = nil
        }

        // Dependency order: the database first, the listener last. Shutdown
        // runs in reverse: the listener drains while /healthz still answers
        // 503 and metrics can still be scraped; the database closes last.
        var services: [any Service] = [
            DatabaseService(
                database: database,
                idempotency: IdempotencyStore(database: database, retention: configuration.idempotencyRetention),
                clock: clock,
                logger: logger
            )
        ]
        if let metricsEndpoint { services.append(metricsEndpoint) }
        services.append(reloader)
        services.append(WarehouseSweeper(warehouse: warehouse))
        services.append(OrdersOutbox(orders: orders))
        // After the server in shutdown order: the last snapshot follows the last call.
        services.append(FraudSnapshots(orders: orders, interval: configuration.fraudSnapshotInterval, logger: logger))
        services.append(server)
        self.group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
                logger: logger
            )
        )
    }

    /// Runs until shut down (a signal or ``shutdown()``).
    public func run() async throws {
        // Reservations that lapsed while the daemon was down are written down
        // in chunks first, so that no call's transaction has to expire them all.
        let logger = self.logger
        let lapsed = try await warehouse.sweepBacklog { total in
            if total % 10_000 == 0 { logger.notice("expiring lapsed reservations", metadata: ["so_far": "\(total)"]) }
        }
        if lapsed > 0 { logger.notice("expired reservations that lapsed while the daemon was down", metadata: ["count": "\(lapsed)"]) }
        // Orders left between capture's sub-transactions are finished, and
        // payment authorizations reconciled, before the first call is served.
        try await orders.recover()
        try await group.run()
    }

    /// Starts a graceful shutdown: GoAway, in-flight calls finish, database closes.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }
}

/// Hands store batch sizes to the metrics made after the database opened.
private final class BatchSizeRelay: Sendable {
    private let box = Mutex<ServerMetrics?>(nil)
    var target: ServerMetrics? {
        get { box.withLock { $0 } }
        set { box.withLock { $0 = newValue } }
    }
    func record(_ size: Int) { target?.recordBatch(size: size) }
}

/// Keeps the database open while the daemon runs, purges expired idempotent
/// outcomes hourly, and closes the database last on shutdown.
struct DatabaseService: Service {
    let database: ParleyDatabase
    let idempotency: IdempotencyStore
    let clock: any WallClock
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let purged = try await idempotency.purgeExpired(nowMilliseconds: clock.nowMilliseconds)
                    if purged > 0 { logger.info("purged expired idempotency outcomes", metadata: ["count": "\(purged)"]) }
                } catch {
                    logger.error("idempotency purge failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
        try await database.close()
        logger.info("database closed")
    }
}

/// Writes down lapsed reservations while the daemon runs. Expiry does not
/// depend on it (units are free at `expires_at` regardless); it keeps the
/// tables tidy and the ledger current.
struct WarehouseSweeper: Service {
    let warehouse: Warehouse

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await warehouse.runSweeper()
        }
    }
}

/// Processes Orders' outbox (post-capture work) while the daemon runs, on
/// the ``WorkLoops`` with the captures that feed it, not on a connection's.
struct OrdersOutbox: Service {
    let orders: Orders

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskExecutorPreference(WorkLoops.executor) {
                await orders.runOutbox()
            }
        }
    }
}

/// Writes down the rolling fraud statistics' quote-only and rejected
/// requests every `interval`, and once more at shutdown.
struct FraudSnapshots: Service {
    let orders: Orders
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { break }
                await snapshot()
            }
        }
        // The listener has drained; captures that outlived their calls may
        // still record a refusal.
        await orders.waitForCaptures(upTo: .seconds(5))
        await snapshot()
    }

    private func snapshot() async {
        do {
            let keys = try await orders.snapshotFraudStatistics()
            if keys > 0 { logger.debug("fraud statistics snapshot written", metadata: ["keys": "\(keys)"]) }
        } catch {
            logger.error("fraud statistics snapshot failed; retrying at the next one", metadata: ["error": "\(error)"])
        }
    }
}

/// Rereads the revocation file on SIGHUP.
final class RevocationFileReloader: Service, Sendable {
    let path: String?
    let revocations: RevocationList
    let handleSignals: Bool
    let logger: Logger

    init(path: String?, revocations: RevocationList, handleSignals: Bool, logger: Logger) {
        self.path = path
        self.revocations = revocations
        self.handleSignals = handleSignals
        self.logger = logger
    }

    func reload() throws {
        guard let path else { return }
        let serials = try RevocationFile.read(URL(fileURLWithPath: path))
        revocations.replaceFileSerials(serials)
        logger.info("revocation file loaded", metadata: ["path": "\(path)", "serials": "\(serials.count)"])
    }

    func run() async throws {
        guard handleSignals else {
            try? await gracefulShutdown()
            return
        }
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                do {
                    try self.reload()
                } catch {
                    // A broken file keeps the previous list: revocations are never dropped by a typo.
                    self.logger.error("revocation file not reloaded; keeping the previous list", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
