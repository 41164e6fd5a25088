import Foundation
public import GRDB
import Logging

/// One named schema change, owned by one module. Identifiers are prefixed with
/// the module (`store.v1.idempotency`, `warehouse.v1.ledger`) and never change
/// once released.
public struct StoreMigration: Sendable {
    public let identifier: String
    public let migrate: @Sendable (Database) throws -> Void

    public init(_ identifier: String, migrate: @escaping @Sendable (Database) throws -> Void) {
        self.identifier = identifier
        self.migrate = migrate
    }
}

/// Parley's SQLite database: WAL mode with `synchronous=FULL`, so that a
/// write whose transaction committed survives `kill -9` and power loss; and a
/// ``BatchedWriter`` that commits concurrent writes together.
///
/// Every subsystem owns its tables and their migrations; the daemon passes all
/// of them to ``open(path:migrations:configuration:logger:)``.
public final class ParleyDatabase: Sendable {
    /// Direct access, for reads and for writes that must not wait for a batch.
    public let writer: any DatabaseWriter
    /// Group commit for concurrent writes (DESIGN §4).
    public let batchedWriter: BatchedWriter
    /// Where each stored idempotent outcome is (see ``IdempotencyStore``).
    let idempotencyIndex: IdempotencyIndex
    /// Read-only connections for ``queryNow(sql:_:row:)`` (nil in memory).
    private let directReaders: DirectReaders?
    /// Copies the log into the database file off the writer thread (nil in memory).
    private let checkpointer: Checkpointer?

    /// Tunables of the store.
    public struct Configuration: Sendable {
        /// The largest number of write operations committed in one transaction.
        public var maxBatchSize: Int
        /// How long a writer waits for a lock before SQLITE_BUSY.
        public var busyTimeout: Duration
        /// SQLite's page cache per reading connection, in KiB.
        public var cacheSizeKiB: Int
        /// The writer connection's page cache, in KiB: smaller than the
        /// readers', because SQLite walks the hash of this cache at every
        /// commit that split a B-tree page. (The split parks a page under
        /// the number of the lock page, 1 GiB into the file, for a moment,
        /// and the commit then clears everything past the end of the file
        /// by visiting every hash bucket.) With 64 MiB that walk was 6 %
        /// of the writer's time under Capture, 13 % with captures in one
        /// write (docs/benchmarks.md, session 10). Pages it does not keep
        /// are read back through the memory map or from the log.
        public var writerCacheSizeKiB: Int
        /// How much of the database file the writer connection reads
        /// through a memory map instead of read(2) calls; 0 turns it off.
        public var mmapSizeBytes: Int
        /// The same for each reading connection: none by default. A reader
        /// whose read finds that the database changed since its last one
        /// (under steady writes, nearly every read) drops its page cache and
        /// unmaps its whole map, and the map is made again and faulted in
        /// page by page: `munmap` with a TLB shootdown across the cores,
        /// `mmap`, page faults. That was about a third of Capture's check for
        /// a stored order; a read(2) of each page it needs costs less
        /// (docs/benchmarks.md, session 13). The writer never finds its own
        /// commits a change, so it keeps its map.
        public var readerMmapSizeBytes: Int

        /// How often the log is copied into the database file, off the
        /// writer thread (see ``Checkpointer``). Often, so that each copy
        /// and the fsync of the database file that ends it stay small:
        /// under the reserve benchmark, 50 ms against 200 ms cut p99 from
        /// about 20 to about 16 ms at the same throughput (benchmarks.md,
        /// Session 8).
        public var checkpointInterval: Duration
        /// A log longer than this many pages after a checkpoint has the
        /// writer finish the copy between two batches, so that the log
        /// starts over; it is also the size the log file is truncated to.
        public var walRestartPages: Int
        /// The page size of a database file this configuration creates
        /// (SQLite fixes it when the file is made; an existing file keeps
        /// its own). A commit writes every page it changed to the log, and
        /// the writer's batches change a few rows on many pages (counters of
        /// different SKUs, the tail of each table and index): 2 KiB pages
        /// halve those bytes against SQLite's 4 KiB default, measured as a
        /// lower p99 for reservations (docs/benchmarks.md, session 5).
        public var pageSizeBytes: Int

        public init(
            maxBatchSize: Int,
            busyTimeout: Duration,
            cacheSizeKiB: Int = 65_536,
            writerCacheSizeKiB: Int = 8_192,
            mmapSizeBytes: Int = 1 << 30,
            readerMmapSizeBytes: Int = 0,
            checkpointInterval: Duration = .milliseconds(50),
            walRestartPages: Int = 16_384,
            pageSizeBytes: Int = 2048
        ) {
            self.maxBatchSize = maxBatchSize
            self.busyTimeout = busyTimeout
            self.cacheSizeKiB = cacheSizeKiB
            self.writerCacheSizeKiB = writerCacheSizeKiB
            self.mmapSizeBytes = mmapSizeBytes
            self.readerMmapSizeBytes = readerMmapSizeBytes
            self.checkpointInterval = checkpointInterval
            self.walRestartPages = walRestartPages
            self.pageSizeBytes = pageSizeBytes
        }

        /// Batches of up to 512 writes, a 64 MiB page cache per reader and
        /// 8 MiB for the writer, a 1 GiB memory map for the writer (none for
        /// readers), a checkpoint every 50 ms, the log started over past 16,384
        /// pages (32 MiB with the 2 KiB pages of new files).
        public static var defaults: Configuration {
            Configuration(maxBatchSize: 512, busyTimeout: .seconds(5))
        }
    }

    /// The store's own migrations (the idempotency table). Always applied first.
    public static let coreMigrations: [StoreMigration] = IdempotencyStore.migrations

    init(
        writer: any DatabaseWriter,
        directReaders: DirectReaders? = nil,
        checkpointing path: String? = nil,
        configuration: Configuration,
        onBatch: (@Sendable (Int) -> Void)?
    ) throws {
        self.writer = writer
        self.directReaders = directReaders
        // Read before the writer and checkpoint threads start, so a failure
        // leaves no thread behind.
        let index = IdempotencyIndex()
        try writer.read { db in try IdempotencyStore.loadIndex(db, into: index) }
        self.idempotencyIndex = index
        let batchedWriter = BatchedWriter(writer: writer, maxBatchSize: configuration.maxBatchSize, onBatch: onBatch)
        self.batchedWriter = batchedWriter
        self.checkpointer = try path.map { path in
            try Checkpointer(
                path: path,
                configuration: Self.grdbConfiguration(configuration),
                interval: configuration.checkpointInterval,
                restartPages: configuration.walRestartPages,
                writer: batchedWriter
            )
        }
    }

    /// Opens (creating if needed) the database file at `path` and applies every
    /// migration not yet applied, in order.
    public static func open(
        path: String,
        migrations: [StoreMigration],
        configuration: Configuration = .defaults,
        onBatch: (@Sendable (Int) -> Void)? = nil
    ) throws -> ParleyDatabase {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Before the first connection: a commit's log writes become one.
        LogWriteCoalescing.install()
        let pool = try DatabasePool(path: path, configuration: grdbConfiguration(configuration))
        // GRDB's WAL set-up runs after `prepareDatabase` and sets the writer
        // connection to synchronous=NORMAL, which does not fsync the log on
        // commit: an acknowledged write could be lost on power failure (a
        // killed process loses nothing either way, which is why the crash
        // tests could not see it). Every commit of this connection is
        // fsynced from here on.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -\(configuration.writerCacheSizeKiB)")
            try db.execute(sql: "PRAGMA mmap_size = \(configuration.mmapSizeBytes)")
            // A read opens the log if it is not open yet; from here on every
            // commit of this connection is synced, so its log may gather
            // its writes (``LogWriteCoalescing``).
            _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master")
            _ = LogWriteCoalescing.arm(db)
        }
        try migrate(pool, migrations: migrations)
        let readers = try DirectReaders(
            path: path,
            count: 4,
            busyTimeout: configuration.busyTimeout,
            mmapSizeBytes: configuration.readerMmapSizeBytes
        )
        do {
            return try ParleyDatabase(
                writer: pool, directReaders: readers, checkpointing: path, configuration: configuration, onBatch: onBatch
            )
        } catch {
            readers.close()
            throw error
        }
    }

    /// An in-memory database for tests (no durability).
    public static func inMemory(
        migrations: [StoreMigration],
        configuration: Configuration = .defaults
    ) throws -> ParleyDatabase {
        let queue = try DatabaseQueue(configuration: grdbConfiguration(configuration))
        try migrate(queue, migrations: migrations)
        return try ParleyDatabase(writer: queue, configuration: configuration, onBatch: nil)
    }

    private static func grdbConfiguration(_ configuration: Configuration) -> GRDB.Configuration {
        var config = GRDB.Configuration()
        config.busyMode = .timeout(TimeInterval(configuration.busyTimeout.components.seconds))
        let cacheSize = configuration.cacheSizeKiB
        let mmapSize = configuration.readerMmapSizeBytes
        let pageSize = configuration.pageSizeBytes
        let walRestartPages = configuration.walRestartPages
        config.prepareDatabase { db in
            // Takes effect only while the file is new (before WAL mode and
            // the first table); an existing file keeps its page size.
            try db.execute(sql: "PRAGMA page_size = \(pageSize)")
            // The log limit counts the file's own pages, whatever it was made with.
            let filePageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? pageSize
            // An acknowledged write is durable: fsync the WAL on every commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // The working set stays in memory rather than in read(2) calls.
            try db.execute(sql: "PRAGMA cache_size = -\(cacheSize)")
            // The writer sets its own in `open` (see `readerMmapSizeBytes`).
            try db.execute(sql: "PRAGMA mmap_size = \(mmapSize)")
            // Savepoints' journals (one per write operation in a batch) stay
            // in memory: past 64 KiB SQLite spills them to a temporary file,
            // one pwrite per page saved, which cost a batch of merged
            // captures more system calls than its log writes.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // Checkpoints run on the checkpointer's thread, not in commits.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            // A log that grew under load is cut back when it starts over.
            try db.execute(sql: "PRAGMA journal_size_limit = \(walRestartPages * filePageSize)")
        }
        return config
    }

    private static func migrate(_ writer: some DatabaseWriter, migrations: [StoreMigration]) throws {
        var migrator = DatabaseMigrator()
        var seen = Set<String>()
        for migration in coreMigrations + migrations {
            guard seen.insert(migration.identifier).inserted else {
                throw StoreError.duplicateMigration(migration.identifier)
            }
            migrator.registerMigration(migration.identifier) { db in try migration.migrate(db) }
        }
        try migrator.migrate(writer)
    }

    /// Runs one query — a **single** statement, which reads one consistent
    /// state — on the calling thread, with `bind`'s values, mapping each
    /// row: for a few indexed rows on a hot path (the Orders inventory
    /// plug-in's stock read, Capture's check for a stored order). It uses
    /// connections of its own (``DirectReaders``), not GRDB's pool: an async
    /// read of the pool holds its connection while it waits for the
    /// executor, so a caller blocking an executor thread on that pool could
    /// wait on itself, and the pool's machinery costs several times the SQL.
    /// In memory, it reads through the writer's connection.
    public func queryNow<T: Sendable>(sql: String, _ bind: (inout DirectBinder) -> Void, row map: (borrowing DirectRow) throws -> T) throws -> [T] {
        if let directReaders { return try directReaders.query(sql: sql, bind, row: map) }
        return try writer.read { db in try db.queryDirect(sql: sql, bind, row: map) }
    }

    /// ``queryNow(sql:_:row:)`` of one statement run `count` times, the
    /// `index`-th time with `bind(index, …)`'s values, all reading the same
    /// state (one read transaction); each run's rows.
    public func queryEachNow<T: Sendable>(
        sql: String,
        count: Int,
        _ bind: (Int, inout DirectBinder) -> Void,
        row map: (borrowing DirectRow) throws -> T
    ) throws -> [[T]] {
        if let directReaders { return try directReaders.queryEach(sql: sql, count: count, bind, row: map) }
        return try writer.read { db in
            try (0..<count).map { index in try db.queryDirect(sql: sql, { bind(index, &$0) }, row: map) }
        }
    }

    /// The value of a pragma on the writer connection (the one whose
    /// settings decide durability), for checks and operations.
    public func pragma(_ name: String) throws -> String? {
        try writer.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }

    /// Closes the database; pending batched writes finish first.
    public func close() async throws {
        await checkpointer?.stop()
        await batchedWriter.stop()
        directReaders?.close()
        if let pool = writer as? DatabasePool {
            try pool.close()
        } else if let queue = writer as? DatabaseQueue {
            try queue.close()
        }
    }
}

/// Store failures that are not a single operation's own error.
public enum StoreError: Error, CustomStringConvertible {
    case duplicateMigration(String)
    case closed

    public var description: String {
        switch self {
        case .duplicateMigration(let identifier): "migration '\(identifier)' is registered twice"
        case .closed: "the database is closed"
        }
    }
}
