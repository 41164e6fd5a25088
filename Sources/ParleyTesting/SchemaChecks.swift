public import GRDB

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
}
