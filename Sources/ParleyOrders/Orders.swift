import Crypto
import Foundation
import GRDB
import Logging
import ParleyProtos
import ParleyStore
import ParleyWarehouse
import Synchronization

/// The Orders subsystem (seed 002): merchants' set-up, the order acceptance
/// controller and, built on them, order capture.
///
/// Merchant set-ups (catalog, shipping, tax, payment, offers, fraud rules,
/// coupon issuers) are compiled into ``MerchantSetup`` values held in memory:
/// a negotiation reads them without a database read and without waiting for
/// the actor. Changes to them run through the actor, one at a time, and
/// replace a merchant's set-up only after their transaction has committed.
public actor Orders {
    nonisolated let database: ParleyDatabase
    nonisolated let clock: any WallClock
    nonisolated let logger: Logger
    nonisolated let warehouse: Warehouse?
    /// The compiled set-ups, by merchant; read without the actor.
    nonisolated let setups: SetupBook
    /// The key of card fingerprints (see `orders_secret`).
    nonisolated let cardKey: SymmetricKey
    /// The key of quote ids and stored request MACs.
    nonisolated let quoteKey: SymmetricKey
    /// The plug-ins, built-in ones first.
    nonisolated let plugins: PluginRunner
    /// Rolling fraud statistics of every merchant.
    nonisolated let fraud: FraudBook
    nonisolated let processor: any PaymentProcessor
    /// Where captures run (see ``init(database:warehouse:clock:logger:processor:plugins:fraudLimits:captureExecutor:)``).
    nonisolated let captureExecutor: (any TaskExecutor)?
    /// Wakes the outbox worker after a capture or failure commits.
    nonisolated let outboxSignal: AsyncStream<Void>.Continuation
    let outboxWakeups: AsyncStream<Void>
    /// Captures running now, by order: a concurrent call for the same order joins.
    var inFlight: [OrderKey: (mac: Data, task: Task<CaptureReply, any Error>)] = [:]
    /// Whether a set-up change holds its turn, and the changes waiting for
    /// theirs (`oneSetupChangeAtATime`).
    var setupChangeRunning = false
    var setupChangeQueue: [CheckedContinuation<Void, Never>] = []

    /// Opens the subsystem over `database` (whose migrations must include
    /// ``OrdersSchema/migrations``) and compiles every stored set-up.
    ///
    /// - Parameters:
    ///   - warehouse: inventory for the `inventory` plug-in (nil: no stock is tracked).
    ///   - processor: the payment processor (default: the simulator, no latency).
    ///   - plugins: plug-ins run after the built-in ones at their call-out points.
    ///   - fraudLimits: the bounds of the rolling fraud statistics.
    ///   - captureExecutor: where captures run (nil: wherever the caller's
    ///     task runs). The daemon gives ``WorkLoops/executor``, so that a
    ///     capture's work leaves the connection's event loop free to read.
    public init(
        database: ParleyDatabase,
        warehouse: Warehouse?,
        clock: any WallClock,
        logger: Logger,
        processor: (any PaymentProcessor)? = nil,
        plugins extra: [any OrderPlugin] = [],
        fraudLimits: FraudStatistics.Limits = .defaults,
        captureExecutor: (any TaskExecutor)? = nil
    ) throws {
        self.captureExecutor = captureExecutor
        self.database = database
        self.warehouse = warehouse
        self.clock = clock
        self.logger = logger
        self.setups = SetupBook()
        self.cardKey = try Self.secret(named: "card_fingerprint_key", in: database)
        self.quoteKey = try Self.secret(named: "quote_key", in: database)
        self.processor = processor ?? SimulatedPaymentProcessor(database: database, clock: clock)
        let fraud = FraudBook(limits: fraudLimits) { [logger] events in
            // The violation log is written off the reply path (on the work
            // loops when a capture made it there).
            Task(executorPreference: WorkLoops.executorIfHere) {
                do {
                    try await database.batchedWriter.write { db in try OrdersStore.insertFraudEvents(db, events) }
                } catch {
                    logger.error("fraud events not logged", metadata: ["error": "\(error)", "count": "\(events.count)"])
                }
            }
        }
        self.fraud = fraud
        var builtIn: [any OrderPlugin] = []
        if let warehouse { builtIn.append(InventoryPlugin(warehouse: warehouse)) }
        builtIn.append(FraudAvoidancePlugin(book: fraud))
        self.plugins = PluginRunner(plugins: builtIn + extra)
        (outboxWakeups, outboxSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        try loadSetups()
        try rebuildFraudStatistics()
    }

    /// A 256-bit secret stored in the database, made on first use.
    static func secret(named name: String, in database: ParleyDatabase) throws -> SymmetricKey {
        let bytes = try database.writer.write { db -> Data in
            if let stored = try Data.fetchOne(db, sql: "SELECT value FROM orders_secret WHERE name = ?", arguments: [name]) {
                return stored
            }
            let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            try db.execute(sql: "INSERT INTO orders_secret (name, value) VALUES (?, ?)", arguments: [name, fresh])
            return fresh
        }
        return SymmetricKey(data: bytes)
    }

    /// The set-up in force for `merchant`, if it has a catalog or a configuration.
    public nonisolated func setup(for merchant: String) -> MerchantSetup? {
        setups.setup(for: merchant)
    }
}

/// Compiled merchant set-ups behind a lock: many readers, replaced whole.
final class SetupBook: Sendable {
    private let byMerchant = Mutex<[String: MerchantSetup]>([:])

    func setup(for merchant: String) -> MerchantSetup? {
        byMerchant.withLock { $0[merchant] }
    }

    func replace(_ setup: MerchantSetup) {
        byMerchant.withLock { $0[setup.merchant] = setup }
    }
}
