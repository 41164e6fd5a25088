public import Foundation
public import GRDB
import GRDBSQLite

// The writer's hot statements, bound and stepped through SQLite's C API on
// GRDB's cached (prepared once per connection) statements.
//
// Why: every durable call runs on the single writer connection, which is
// the daemon's bottleneck under write load, and about half of a statement's
// cost there was GRDB's generic path (StatementArguments boxing every value
// as a DatabaseValue, argument validation, observation hooks per statement).
// These functions bind values directly. They skip GRDB's per-statement
// transaction-observation hooks, so use them only for tables nobody observes
// through GRDB (Parley observes none); commit and rollback callbacks such as
// `afterNextTransaction` are driven by SQLite's hooks and still fire.

/// Binds the parameters of one statement, in order (`?1`, `?2`, …).
public struct DirectBinder: ~Copyable {
    let handle: OpaquePointer
    var index: CInt = 1

    init(handle: OpaquePointer) { self.handle = handle }

    /// SQLite copies the bytes before the bind returns.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    public mutating func bind(_ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
        index += 1
    }

    public mutating func bind(_ value: Int) { bind(Int64(value)) }

    public mutating func bind(_ value: String) {
        var value = value
        value.withUTF8 { bytes in
            let start = UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self)
            _ = sqlite3_bind_text(handle, index, start, CInt(bytes.count), Self.transient)
        }
        index += 1
    }

    public mutating func bind(_ value: String?) {
        guard let value else {
            sqlite3_bind_null(handle, index)
            index += 1
            return
        }
        bind(value)
    }

    public mutating func bind(_ value: Data) {
        value.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), CInt(bytes.count), Self.transient)
        }
        index += 1
    }
}

/// The name of a savepoint taken by ``GRDB/Database/inDirectSavepoint(named:_:)``.
public struct SavepointName: Sendable {
    let begin: String
    let release: String
    let rollback: String

    init(_ name: String) {
        begin = "SAVEPOINT \(name)"
        release = "RELEASE SAVEPOINT \(name)"
        rollback = "ROLLBACK TO SAVEPOINT \(name)"
    }

    /// A step inside an operation (the default).
    public static let step = SavepointName("step")
    /// One operation of a group commit (``BatchedWriter``).
    public static let batchOperation = SavepointName("batch_operation")
}

/// The current row of a direct query, read by column position.
public struct DirectRow: ~Copyable {
    let handle: OpaquePointer

    public func int64(_ column: CInt) -> Int64 { sqlite3_column_int64(handle, column) }

    public func string(_ column: CInt) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: text)
    }

    public func data(_ column: CInt) -> Data {
        guard let bytes = sqlite3_column_blob(handle, column) else { return Data() }
        return Data(bytes: bytes, count: Int(sqlite3_column_bytes(handle, column)))
    }
}

extension Database {
    /// Runs `body` in a savepoint of its own, inside the current transaction:
    /// released when `body` returns, rolled back when it throws (and the
    /// error rethrown), so that a failing step undoes its own changes and no
    /// others. Savepoints nest. Unlike GRDB's `inSavepoint`, the SAVEPOINT
    /// statements are prepared once per connection (one set per `name`).
    ///
    /// SQLite rolls back to the most recent savepoint of a name: a layer
    /// that must undo everything nested in it, even a savepoint some inner
    /// step failed to close, takes a name of its own.
    public func inDirectSavepoint<T>(named name: SavepointName = .step, _ body: () throws -> T) throws -> T {
        try executeDirect(sql: name.begin) { _ in }
        do {
            let value = try body()
            try executeDirect(sql: name.release) { _ in }
            return value
        } catch {
            // Failing to roll back leaves the transaction unusable: that
            // error propagates instead, and the whole transaction fails.
            try executeDirect(sql: name.rollback) { _ in }
            try executeDirect(sql: name.release) { _ in }
            throw error
        }
    }

    /// Executes a cached statement with directly bound values and returns how
    /// many rows it changed.
    @discardableResult
    public func executeDirect(sql: String, _ bind: (inout DirectBinder) -> Void) throws -> Int {
        let handle = try cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(handle)
        var binder = DirectBinder(handle: handle)
        bind(&binder)
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            let message = lastErrorMessage
            sqlite3_reset(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
        }
        sqlite3_reset(handle)
        return Int(sqlite3_changes(sqliteConnection))
    }

    /// Runs a cached query with directly bound values, mapping each row.
    public func queryDirect<T>(sql: String, _ bind: (inout DirectBinder) -> Void, row map: (borrowing DirectRow) throws -> T) throws -> [T] {
        let handle = try cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(handle)
        var binder = DirectBinder(handle: handle)
        bind(&binder)
        defer { sqlite3_reset(handle) }
        var rows: [T] = []
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return rows }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: lastErrorMessage, sql: sql)
            }
            rows.append(try map(DirectRow(handle: handle)))
        }
    }
}
