public import Foundation
public import GRDB

/// The stored outcome of a mutating call made with an `idempotency-key`
/// (DESIGN §2): a retry with the same key and the same request gets this
/// outcome back instead of running again.
public struct IdempotencyRecord: Sendable, Hashable {
    /// SHA-256 of the request's deterministic serialization.
    public var requestDigest: Data
    /// The status code the call ended with (0 for OK).
    public var code: Int
    /// The serialized response on OK; the serialized wire status otherwise.
    public var payload: Data
    /// When the outcome was stored, Unix milliseconds.
    public var createdAtMilliseconds: Int64

    public init(requestDigest: Data, code: Int, payload: Data, createdAtMilliseconds: Int64) {
        self.requestDigest = requestDigest
        self.code = code
        self.payload = payload
        self.createdAtMilliseconds = createdAtMilliseconds
    }
}

/// The scope of one idempotent outcome: (principal, method, key), with its
/// index hash computed once, where the call arrives, rather than on the
/// database's writer.
public struct IdempotencyKey: Sendable, Hashable {
    public let principal: String
    public let method: String
    public let key: String
    let scope: IdempotencyIndex.Scope

    public init(principal: String, method: String, key: String) {
        self.principal = principal
        self.method = method
        self.key = key
        self.scope = IdempotencyIndex.Scope(principal: principal, method: method, key: key)
    }
}

/// Where idempotent outcomes are kept, keyed by (principal, method, key).
/// Keys are scoped to the calling principal so that one tenant's key can
/// never reveal another's outcome.
///
/// Outcomes are appended to `idempotency_record` in commit order and found
/// through the database's in-memory ``IdempotencyIndex``: a key never used
/// before costs no read at all, and storing an outcome is one append.
public struct IdempotencyStore: Sendable {
    public let database: ParleyDatabase
    /// How long outcomes are kept.
    public let retention: Duration

    public init(database: ParleyDatabase, retention: Duration = .seconds(24 * 3600)) {
        self.database = database
        self.retention = retention
    }

    static let migrations: [StoreMigration] = [
        StoreMigration("store.v1.idempotency") { db in
            try db.execute(sql: """
                CREATE TABLE idempotency_outcome (
                    principal TEXT NOT NULL,
                    method TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    request_digest BLOB NOT NULL,
                    code INTEGER NOT NULL,
                    payload BLOB NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (principal, method, idempotency_key)
                ) WITHOUT ROWID;
                CREATE INDEX idempotency_outcome_created ON idempotency_outcome(created_at_ms);
                """)
        },
        // Append-only: no B-tree keyed by random keys for every call to
        // write into. The index lives in memory (IdempotencyIndex).
        StoreMigration("store.v2.idempotency_append") { db in
            try db.execute(sql: """
                CREATE TABLE idempotency_record (
                    id INTEGER PRIMARY KEY,
                    principal TEXT NOT NULL,
                    method TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    request_digest BLOB NOT NULL,
                    code INTEGER NOT NULL,
                    payload BLOB NOT NULL,
                    created_at_ms INTEGER NOT NULL
                );
                INSERT INTO idempotency_record
                    (principal, method, idempotency_key, request_digest, code, payload, created_at_ms)
                    SELECT principal, method, idempotency_key, request_digest, code, payload, created_at_ms
                    FROM idempotency_outcome ORDER BY created_at_ms;
                DROP TABLE idempotency_outcome;
                """)
        },
    ]

    /// Rebuilds the in-memory index from the table (when the database opens).
    static func loadIndex(_ db: Database, into index: IdempotencyIndex) throws {
        let rows = try Row.fetchCursor(db, sql: "SELECT id, principal, method, idempotency_key, created_at_ms FROM idempotency_record ORDER BY id")
        while let row = try rows.next() {
            index.insert(
                IdempotencyIndex.Scope(principal: row[1], method: row[2], key: row[3]),
                rowID: row[0],
                createdAtMilliseconds: row[4]
            )
        }
    }

    /// The stored outcome, unless there is none or it is older than the retention.
    public func lookup(principal: String, method: String, key: String, nowMilliseconds: Int64) async throws -> IdempotencyRecord? {
        try await lookup(IdempotencyKey(principal: principal, method: method, key: key), nowMilliseconds: nowMilliseconds)
    }

    /// The stored outcome, unless there is none or it is older than the retention.
    public func lookup(_ scope: IdempotencyKey, nowMilliseconds: Int64) async throws -> IdempotencyRecord? {
        let oldest = nowMilliseconds - retentionMilliseconds
        // Never used (the usual case): answered from memory.
        guard let rowID = database.idempotencyIndex.rowID(for: scope.scope) else { return nil }
        let (principal, method, key) = (scope.principal, scope.method, scope.key)
        return try await database.writer.read { db in
            guard let row = try Row.fetchOne(
                cached: db,
                sql: """
                    SELECT principal, method, idempotency_key, request_digest, code, payload, created_at_ms
                    FROM idempotency_record WHERE id = ?
                    """,
                arguments: [rowID]
            ) else { return nil }
            // The entry is a hint: the row must really be this call's.
            guard row["principal"] == principal, row["method"] == method, row["idempotency_key"] == key,
                row["created_at_ms"] >= oldest
            else { return nil }
            return IdempotencyRecord(
                requestDigest: row["request_digest"],
                code: row["code"],
                payload: row["payload"],
                createdAtMilliseconds: row["created_at_ms"]
            )
        }
    }

    /// Stores an outcome (durably, through the batched writer). A newer
    /// record under the same key supersedes an expired one.
    public func store(principal: String, method: String, key: String, record: IdempotencyRecord) async throws {
        try await store(IdempotencyKey(principal: principal, method: method, key: key), record: record)
    }

    /// Stores an outcome (durably, through the batched writer).
    public func store(_ scope: IdempotencyKey, record: IdempotencyRecord) async throws {
        try await database.batchedWriter.write { db in
            try self.insert(db, scope, record: record)
        }
    }

    /// Stores an outcome inside a transaction the caller already holds, so a
    /// subsystem can commit its business write and the outcome atomically.
    /// The in-memory index learns of it when that transaction commits.
    public func insert(_ db: Database, _ scope: IdempotencyKey, record: IdempotencyRecord) throws {
        try db.executeDirect(
            sql: """
                INSERT INTO idempotency_record
                (principal, method, idempotency_key, request_digest, code, payload, created_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """
        ) { binder in
            binder.bind(scope.principal)
            binder.bind(scope.method)
            binder.bind(scope.key)
            binder.bind(record.requestDigest)
            binder.bind(record.code)
            binder.bind(record.payload)
            binder.bind(record.createdAtMilliseconds)
        }
        let index = database.idempotencyIndex
        let rowID = db.lastInsertedRowID
        let hash = scope.scope
        let createdAt = record.createdAtMilliseconds
        let learn: @Sendable () -> Void = { index.insert(hash, rowID: rowID, createdAtMilliseconds: createdAt) }
        if !database.batchedWriter.afterCommit(of: db, learn) {
            db.afterNextTransaction { _ in learn() }
        }
    }

    /// Deletes outcomes older than the retention, in chunks of `chunk` rows
    /// per transaction so that other writes are not held up. Returns how many went.
    @discardableResult
    public func purgeExpired(nowMilliseconds: Int64, chunk: Int = 10_000) async throws -> Int {
        let oldest = nowMilliseconds - retentionMilliseconds
        guard let highest = database.idempotencyIndex.expire(before: oldest) else { return 0 }
        var purged = 0
        while true {
            let deleted = try await database.batchedWriter.write { db in
                try db.executeCached(
                    sql: """
                        DELETE FROM idempotency_record WHERE id IN
                        (SELECT id FROM idempotency_record WHERE id <= ? AND created_at_ms < ? ORDER BY id LIMIT ?)
                        """,
                    arguments: [highest, oldest, chunk]
                )
                return db.changesCount
            }
            purged += deleted
            if deleted < chunk { return purged }
        }
    }

    private var retentionMilliseconds: Int64 {
        let parts = retention.components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }
}
