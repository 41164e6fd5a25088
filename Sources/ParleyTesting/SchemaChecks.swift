import Foundation
public import GRDB
public import ParleyStore

/// Checks of a module's tables that keep writes cheap.
public enum SchemaChecks {
    /// The tables whose row writes make SQLite build a temporary index
    /// (`OpenEphemeral` in the statement's program): a CHECK written as
    /// `column IN ('a', 'b', 'c', …)` does that for every row inserted or
    /// updated, about 3 µs each on the writer. Returns "table: statement"
    /// for each offending insert or update; empty when every write is cheap.
    public static func writesBuildingTemporaryIndexes(_ db: Database, tables: [String]) throws -> [String] {
        var offending: [String] = []
        for table in tables {
            let info = try Row.fetchAll(db, sql: "SELECT name, pk FROM pragma_table_info(?)", arguments: [table])
            precondition(!info.isEmpty, "no table \(table)")
            let columns = info.map { "\"\($0["name"] as String)\"" }
            let key = info.filter { ($0["pk"] as Int) > 0 }.map { "\"\($0["name"] as String)\"" }
            let others = info.filter { ($0["pk"] as Int) == 0 }.map { "\"\($0["name"] as String)\"" }
            // Compiled, never run: NULLs stand in for values. The update has
            // the shape of the real ones: non-key columns of one row by its key.
            var statements = ["INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "NULL" }.joined(separator: ", ")))"]
            if !others.isEmpty {
                let row = key.isEmpty ? "rowid = NULL" : key.map { "\($0) = NULL" }.joined(separator: " AND ")
                statements.append("UPDATE \(table) SET \(others.map { "\($0) = NULL" }.joined(separator: ", ")) WHERE \(row)")
            }
            for sql in statements {
                let opcodes = try Row.fetchAll(db, sql: "EXPLAIN " + sql).map { $0["opcode"] as String }
                if opcodes.contains("OpenEphemeral") { offending.append("\(table): \(sql)") }
            }
        }
        return offending
    }

    /// ``writesBuildingTemporaryIndexes(_:tables:)`` for every table whose
    /// name starts with one of `prefixes`, in a new in-memory database with
    /// `migrations` applied.
    public static func writesBuildingTemporaryIndexes(migrations: [StoreMigration], tablePrefixes prefixes: [String]) throws -> [String] {
        let database = try ParleyDatabase.inMemory(migrations: migrations)
        return try database.writer.read { db in
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .filter { name in prefixes.contains { name.hasPrefix($0) } }
            return try writesBuildingTemporaryIndexes(db, tables: tables)
        }
    }

    /// An upgrade as a daemon meets it: a database file made with the
    /// `older` migrations and the rows `seed` writes, closed, then opened
    /// with `migrations` and handed to `body` (closed, and its directory
    /// removed, afterwards).
    public static func withUpgradedDatabase<T>(
        from older: [StoreMigration],
        to migrations: [StoreMigration],
        seed: @escaping @Sendable (Database) throws -> Void,
        _ body: (ParleyDatabase) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-upgrade-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("parley.sqlite").path
        let old = try ParleyDatabase.open(path: path, migrations: older)
        try await old.batchedWriter.write(seed)
        try await old.close()
        let upgraded = try ParleyDatabase.open(path: path, migrations: migrations)
        do {
            let result = try await body(upgraded)
            try await upgraded.close()
            return result
        } catch {
            try? await upgraded.close()
            throw error
        }
    }
}
