import Foundation
import GRDB
import ParleyPKI
import ParleyStore
import Synchronization

/// Revoked client certificate serials: those in the revocation file
/// (reloaded on SIGHUP) and those revoked through `Admin/RevokeCertificate`
/// (kept in the database). Checked after every TLS handshake.
public final class RevocationList: Sendable {
    /// One revoked serial.
    public struct Entry: Sendable, Hashable {
        public var serial: String
        public var reason: String
        public var revokedBy: String
        public var revokedAtMilliseconds: Int64
        public var fromFile: Bool
    }

    private struct State {
        var file: Set<String> = []
        var database: [String: Entry] = [:]
        var observers: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    public init() {}

    public func isRevoked(_ serial: String) -> Bool {
        state.withLock { $0.file.contains(serial) || $0.database[serial] != nil }
    }

    /// Every revoked serial, sorted.
    public var entries: [Entry] {
        state.withLock { state in
            var all = state.database
            for serial in state.file where all[serial] == nil {
                all[serial] = Entry(serial: serial, reason: "", revokedBy: "", revokedAtMilliseconds: 0, fromFile: true)
            }
            return all.values.sorted { $0.serial < $1.serial }
        }
    }

    /// Replaces the serials that came from the file.
    public func replaceFileSerials(_ serials: Set<String>) {
        state.withLock { $0.file = serials }
        notify()
    }

    func add(_ entry: Entry) {
        state.withLock { $0.database[entry.serial] = entry }
        notify()
    }

    func loadDatabase(_ entries: [Entry]) {
        state.withLock { state in
            for entry in entries { state.database[entry.serial] = entry }
        }
    }

    /// Runs `observer` after every change (the server re-checks its connections).
    func observe(_ observer: @escaping @Sendable () -> Void) {
        state.withLock { $0.observers.append(observer) }
    }

    private func notify() {
        let observers = state.withLock { $0.observers }
        for observer in observers { observer() }
    }
}

/// The durable half of the revocation list.
public struct RevocationStore: Sendable {
    let database: ParleyDatabase

    public init(database: ParleyDatabase) { self.database = database }

    /// The server's tables.
    public static let migrations: [StoreMigration] = [
        StoreMigration("server.v1.revoked_certificate") { db in
            try db.execute(sql: """
                CREATE TABLE revoked_certificate (
                    serial TEXT PRIMARY KEY NOT NULL,
                    reason TEXT NOT NULL,
                    revoked_by TEXT NOT NULL,
                    revoked_at_ms INTEGER NOT NULL
                ) WITHOUT ROWID
                """)
        }
    ]

    func all() throws -> [RevocationList.Entry] {
        try database.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT serial, reason, revoked_by, revoked_at_ms FROM revoked_certificate").map { row in
                RevocationList.Entry(
                    serial: row["serial"],
                    reason: row["reason"],
                    revokedBy: row["revoked_by"],
                    revokedAtMilliseconds: row["revoked_at_ms"],
                    fromFile: false
                )
            }
        }
    }

    /// Inserts the entry unless the serial is already there; returns the stored entry and whether it is new.
    func revoke(_ entry: RevocationList.Entry) async throws -> (RevocationList.Entry, Bool) {
        try await database.batchedWriter.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO revoked_certificate (serial, reason, revoked_by, revoked_at_ms) VALUES (?, ?, ?, ?)",
                arguments: [entry.serial, entry.reason, entry.revokedBy, entry.revokedAtMilliseconds]
            )
            if db.changesCount == 1 { return (entry, true) }
            let row = try Row.fetchOne(
                db,
                sql: "SELECT reason, revoked_by, revoked_at_ms FROM revoked_certificate WHERE serial = ?",
                arguments: [entry.serial]
            )
            let existing = RevocationList.Entry(
                serial: entry.serial,
                reason: row?["reason"] ?? "",
                revokedBy: row?["revoked_by"] ?? "",
                revokedAtMilliseconds: row?["revoked_at_ms"] ?? 0,
                fromFile: false
            )
            return (existing, false)
        }
    }
}
