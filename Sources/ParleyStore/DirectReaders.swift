import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Read-only SQLite connections of the store's own, for a query of **one**
/// statement on a hot path: the Orders inventory plug-in's stock read on
/// every Negotiate and Capture, and Capture's check for a stored order.
///
/// Why not GRDB's pool: a read through `DatabasePool` takes a connection
/// from the pool (a semaphore and a lock), hops onto the connection's
/// dispatch queue, checks the schema version and wraps the body in a
/// transaction. Measured under the Negotiate benchmark, that machinery cost
/// about 40 µs per call around a few µs of SQL — a quarter of the daemon's
/// CPU per Negotiate (docs/benchmarks.md, session 9). Here a query binds and
/// steps a statement prepared once per connection, on the calling thread.
///
/// One statement reads one consistent state of the database (SQLite's
/// snapshot isolation in WAL mode), so no transaction is needed; a caller
/// that needs several statements to agree uses GRDB's pool instead.
///
/// Each connection is used by one thread at a time: a query takes the first
/// connection that is free, or waits for one. Statements are prepared with
/// `SQLITE_PREPARE_PERSISTENT` and kept until ``close()``.
public final class DirectReaders: Sendable {
    private final class Connection: @unchecked Sendable {
        // Guarded by the Mutex that holds this connection.
        var handle: OpaquePointer?
        var statements: [String: OpaquePointer] = [:]

        init(handle: OpaquePointer) { self.handle = handle }
    }

    /// One connection and the lock that gives it to one thread at a time.
    private final class Slot: Sendable {
        let connection: Mutex<Connection>

        init(_ connection: Connection) { self.connection = Mutex(connection) }
    }

    private let slots: [Slot]
    /// Where the next query starts looking for a free connection.
    private let next = Atomic<UInt>(0)

    /// Opens `count` read-only connections to the database file at `path`
    /// (in WAL mode, created and migrated already).
    public init(path: String, count: Int, busyTimeout: Duration, mmapSizeBytes: Int) throws {
        precondition(count >= 1)
        var opened: [Slot] = []
        do {
            for _ in 0..<count {
                var handle: OpaquePointer?
                let code = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
                guard code == SQLITE_OK, let handle else {
                    let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
                    sqlite3_close_v2(handle)
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
                }
                opened.append(Slot(Connection(handle: handle)))
                let milliseconds = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
                sqlite3_busy_timeout(handle, CInt(clamping: milliseconds))
                try Self.execute(handle, "PRAGMA mmap_size = \(mmapSizeBytes)")
            }
        } catch {
            for slot in opened { slot.connection.withLock { Self.close($0) } }
            throw error
        }
        slots = opened
    }

    /// Runs one query (a single statement) with `bind`'s values and maps
    /// each row. Blocks while every connection is busy. `bind` and `map` run
    /// with a connection locked: they must not query again.
    public func query<T: Sendable>(sql: String, _ bind: (inout DirectBinder) -> Void, row map: (borrowing DirectRow) throws -> T) throws -> [T] {
        try withConnection { try Self.query($0, sql, bind, map) }
    }

    /// Runs one statement `count` times — the `index`-th time with
    /// `bind(index, …)`'s values — in one read transaction, so that every
    /// run reads the same state; returns each run's rows. Cheaper than as
    /// many calls of ``query(sql:_:row:)``: SQLite takes and drops its
    /// read locks (system calls) once per transaction.
    public func queryEach<T: Sendable>(
        sql: String,
        count: Int,
        _ bind: (Int, inout DirectBinder) -> Void,
        row map: (borrowing DirectRow) throws -> T
    ) throws -> [[T]] {
        guard count > 1 else {
            return count == 1 ? [try query(sql: sql, { bind(0, &$0) }, row: map)] : []
        }
        return try withConnection { connection in
            _ = try Self.query(connection, "BEGIN", { _ in }, { _ in () })
            do {
                let results = try (0..<count).map { index in try Self.query(connection, sql, { bind(index, &$0) }, map) }
                _ = try Self.query(connection, "COMMIT", { _ in }, { _ in () })
                return results
            } catch {
                // A connection left inside a transaction would read that
                // snapshot forever: end it, or close the connection.
                if let handle = connection.handle, sqlite3_get_autocommit(handle) == 0,
                    sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) != SQLITE_OK
                {
                    Self.close(connection)
                }
                throw error
            }
        }
    }

    /// Runs `body` on the first free connection, or waits for one.
    private func withConnection<R: Sendable>(_ body: (Connection) throws -> R) throws -> R {
        let start = Int(next.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(slots.count))
        for offset in 0..<slots.count {
            let index = (start + offset) % slots.count
            if let result = try slots[index].connection.withLockIfAvailable({ try body($0) }) {
                return result
            }
        }
        return try slots[start].connection.withLock { try body($0) }
    }

    /// Finalizes the statements and closes the connections (after the
    /// queries running on them). Queries after it fail; closing again does
    /// nothing.
    public func close() {
        for slot in slots { slot.connection.withLock { Self.close($0) } }
    }

    deinit {
        close()
    }

    private static func query<T>(
        _ connection: Connection,
        _ sql: String,
        _ bind: (inout DirectBinder) -> Void,
        _ map: (borrowing DirectRow) throws -> T
    ) throws -> [T] {
        guard let handle = connection.handle else { throw StoreError.closed }
        let statement = try prepared(connection, handle, sql)
        var binder = DirectBinder(handle: statement)
        bind(&binder)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        var rows: [T] = []
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return rows }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
            }
            rows.append(try map(DirectRow(handle: statement)))
        }
    }

    private static func prepared(_ connection: Connection, _ handle: OpaquePointer, _ sql: String) throws -> OpaquePointer {
        if let statement = connection.statements[sql] { return statement }
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
        connection.statements[sql] = statement
        return statement
    }

    private static func execute(_ handle: OpaquePointer, _ sql: String) throws {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
    }

    private static func close(_ connection: Connection) {
        for statement in connection.statements.values { sqlite3_finalize(statement) }
        connection.statements = [:]
        if let handle = connection.handle { sqlite3_close_v2(handle) }
        connection.handle = nil
    }
}
