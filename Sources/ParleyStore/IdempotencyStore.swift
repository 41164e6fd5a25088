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

/// Where idempotent outcomes are kept, keyed by (principal, method, key).
/// Keys are scoped to the calling principal so that one tenant's key can
/// never reveal another's outcome.
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
        }
    ]

    /// The stored outcome, unless there is none or it is older than the retention.
    public func lookup(principal: String, method: String, key: String, nowMilliseconds: Int64) async throws -> IdempotencyRecord? {
        let oldest = nowMilliseconds - retentionMilliseconds
        return try await database.writer.read { db in
            guard let row = try Row.fetchOne(
                cached: db,
                sql: """
                    SELECT request_digest, code, payload, created_at_ms FROM idempotency_outcome
                    WHERE principal = ? AND method = ? AND idempotency_key = ? AND created_at_ms >= ?
                    """,
                arguments: [principal, method, key, oldest]
            ) else { return nil }
            return IdempotencyRecord(
                requestDigest: row["request_digest"],
                code: row["code"],
                payload: row["payload"],
                createdAtMilliseconds: row["created_at_ms"]
            )
        }
    }

    /// Stores an outcome (durably, through the batched writer). An expired
    /// record under the same key is replaced.
    public func store(principal: String, method: String, key: String, record: IdempotencyRecord) async throws {
        try await database.batchedWriter.write { db in
            try Self.insert(db, principal: principal, method: method, key: key, record: record)
        }
    }

    /// Stores an outcome inside a transaction the caller already holds, so a
    /// subsystem can commit its business write and the outcome atomically.
    public static func insert(_ db: Database, principal: String, method: String, key: String, record: IdempotencyRecord) throws {
        try db.executeCached(
            sql: """
                INSERT OR REPLACE INTO idempotency_outcome
                (principal, method, idempotency_key, request_digest, code, payload, created_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [principal, method, key, record.requestDigest, record.code, record.payload, record.createdAtMilliseconds]
        )
    }

    /// Deletes outcomes older than the retention. Returns how many went.
    @discardableResult
    public func purgeExpired(nowMilliseconds: Int64) async throws -> Int {
        let oldest = nowMilliseconds - retentionMilliseconds
        return try await database.batchedWriter.write { db in
            try db.executeCached(sql: "DELETE FROM idempotency_outcome WHERE created_at_ms < ?", arguments: [oldest])
            return db.changesCount
        }
    }

    private var retentionMilliseconds: Int64 {
        let parts = retention.components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }
}
