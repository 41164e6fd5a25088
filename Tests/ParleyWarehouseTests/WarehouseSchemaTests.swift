import GRDB
import ParleyStore
import ParleyTesting
@testable import ParleyWarehouse
import Testing

/// The warehouse's tables keep every write cheap, and the migration that
/// made them so keeps what an older database holds.
@Suite("Warehouse schema")
struct WarehouseSchemaTests {
    @Test("no insert or update builds a temporary index (the CHECKs are OR chains, not IN lists)")
    func writesAreCheap() throws {
        let offending = try SchemaChecks.writesBuildingTemporaryIndexes(migrations: WarehouseSchema.migrations, tablePrefixes: ["warehouse_"])
        #expect(offending.isEmpty, "\(offending)")
    }

    @Test("the check sees the IN lists of the schema before warehouse.v3")
    func checkDetectsInLists() throws {
        let offending = try SchemaChecks.writesBuildingTemporaryIndexes(
            migrations: Array(WarehouseSchema.migrations.prefix(2)), tablePrefixes: ["warehouse_"]
        )
        #expect(offending.contains { $0.hasPrefix("warehouse_reservation:") })
        #expect(offending.contains { $0.hasPrefix("warehouse_ledger:") })
    }

    @Test("upgrading a database keeps its reservations, ledger and indexes, and the constraints still refuse bad rows")
    func upgradeKeepsRows() async throws {
        try await SchemaChecks.withUpgradedDatabase(from: Array(WarehouseSchema.migrations.prefix(2)), to: WarehouseSchema.migrations) { db in
            try db.execute(sql: """
                INSERT INTO warehouse_reservation (id, owner, reference, state, created_at_ms, expires_at_ms) VALUES ('rsv_a', 'agent-1', 'r', 'HELD', 1, 2);
                INSERT INTO warehouse_reservation (id, owner, reference, state, created_at_ms, expires_at_ms, closed_at_ms) VALUES ('rsv_b', 'agent-1', 'r', 'CONFIRMED', 1, 2, 3);
                INSERT INTO warehouse_ledger (merchant, sku, kind, quantity, reservation_id, reason, at_ms) VALUES ('m', 's', 'allocate', 5, NULL, 'feed', 1);
                INSERT INTO warehouse_ledger (merchant, sku, kind, quantity, reservation_id, reason, at_ms) VALUES ('m', 's', 'hold', 2, 'rsv_a', '', 1);
                """)
        } _: { upgraded in
            let (reservations, ledger, indexes) = try await upgraded.writer.read { db in
                (
                    try Row.fetchAll(db, sql: "SELECT id, state, closed_at_ms FROM warehouse_reservation ORDER BY id").map { "\($0[0] as String) \($0[1] as String) \($0[2] as Int64)" },
                    try Row.fetchAll(db, sql: "SELECT id, kind, quantity, reason FROM warehouse_ledger ORDER BY id").map { "\($0[0] as Int64) \($0[1] as String) \($0[2] as Int64) \($0[3] as String)" },
                    try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'warehouse_reservation' AND sql IS NOT NULL ORDER BY name")
                )
            }
            #expect(reservations == ["rsv_a HELD 0", "rsv_b CONFIRMED 3"])
            #expect(ledger == ["1 allocate 5 feed", "2 hold 2 "])
            #expect(indexes == ["warehouse_reservation_due", "warehouse_reservation_owner"])
            await #expect(throws: DatabaseError.self) {
                try await upgraded.batchedWriter.write { db in
                    try db.execute(sql: "UPDATE warehouse_reservation SET state = 'LOST' WHERE id = 'rsv_a'")
                }
            }
            await #expect(throws: DatabaseError.self) {
                try await upgraded.batchedWriter.write { db in
                    try db.execute(sql: "INSERT INTO warehouse_ledger (merchant, sku, kind, quantity, at_ms) VALUES ('m', 's', 'steal', 1, 1)")
                }
            }
        }
    }

    @Test("warehouse.v4 counts the units each agent holds from its HELD reservations' lines")
    func ownerUnitsBackfill() async throws {
        try await SchemaChecks.withUpgradedDatabase(from: Array(WarehouseSchema.migrations.prefix(3)), to: WarehouseSchema.migrations) { db in
            try db.execute(sql: """
                INSERT INTO warehouse_reservation (id, owner, reference, state, created_at_ms, expires_at_ms) VALUES
                    ('rsv_a', 'agent-1', '', 'HELD', 1, 2), ('rsv_b', 'agent-1', '', 'CONFIRMED', 1, 2), ('rsv_c', 'agent-2', '', 'HELD', 1, 2);
                INSERT INTO warehouse_reservation_line (reservation_id, line, merchant, sku, quantity) VALUES
                    ('rsv_a', 0, 'm', 's', 2), ('rsv_a', 1, 'm', 't', 3), ('rsv_b', 0, 'm', 's', 7), ('rsv_c', 0, 'm', 's', 1);
                INSERT INTO warehouse_owner (owner, held) VALUES ('agent-1', 1), ('agent-2', 1);
                """)
        } _: { upgraded in
            let units = try await upgraded.writer.read { db in
                try Row.fetchAll(db, sql: "SELECT owner, held, units FROM warehouse_owner ORDER BY owner").map { "\($0[0] as String) \($0[1] as Int64) \($0[2] as Int64)" }
            }
            #expect(units == ["agent-1 1 5", "agent-2 1 1"])
        }
    }
}
