import GRDB
@testable import ParleyOrders
import ParleyStore
import ParleyTesting
import Testing

/// The Orders tables keep every write cheap.
@Suite("Orders schema")
struct OrdersSchemaTests {
    static let tablePrefixes = ["orders_", "payments_"]

    @Test("no insert or update of an Orders table builds a temporary index (the CHECKs are OR chains, not IN lists)")
    func writesAreCheap() throws {
        let offending = try SchemaChecks.writesBuildingTemporaryIndexes(migrations: OrdersSchema.migrations, tablePrefixes: Self.tablePrefixes)
        #expect(offending.isEmpty, "\(offending)")
    }

    @Test("the check sees the IN lists of the schema before orders.v3")
    func checkDetectsInLists() throws {
        let offending = try SchemaChecks.writesBuildingTemporaryIndexes(
            migrations: Array(OrdersSchema.migrations.prefix(2)), tablePrefixes: Self.tablePrefixes
        )
        #expect(offending.contains { $0.hasPrefix("orders_order:") })
        #expect(offending.contains { $0.hasPrefix("payments_authorization:") })
    }

    @Test("upgrading a database keeps its orders, authorizations and indexes, and the state CHECKs still refuse bad rows")
    func upgradeKeepsRows() async throws {
        try await SchemaChecks.withUpgradedDatabase(from: Array(OrdersSchema.migrations.prefix(2)), to: OrdersSchema.migrations) { db in
            try db.execute(sql: """
                INSERT INTO orders_order (agent, order_id, merchant, state, request_mac, request, acceptance, detail,
                    amount_minor, currency, authorization_id, created_at_ms, updated_at_ms)
                VALUES ('agent-1', 'o-1', 'm', 'PENDING', x'01', x'02', x'03', x'04', 1250, 'USD', 'auth_1', 1, 2);
                INSERT INTO payments_authorization (id, key, merchant, amount_minor, currency, instrument, state, decline_code, created_at_ms, updated_at_ms)
                VALUES ('auth_1', 'agent-1/o-1', 'm', 1250, 'USD', '****1111', 'AUTHORIZED', '', 1, 2);
                """)
        } _: { upgraded in
            let (orders, authorizations, indexes) = try await upgraded.writer.read { db in
                (
                    try Row.fetchAll(db, sql: "SELECT order_id, state, amount_minor, authorization_id FROM orders_order").map {
                        "\($0[0] as String) \($0[1] as String) \($0[2] as Int64) \($0[3] as String)"
                    },
                    try Row.fetchAll(db, sql: "SELECT id, key, state FROM payments_authorization").map { "\($0[0] as String) \($0[1] as String) \($0[2] as String)" },
                    try String.fetchAll(
                        db,
                        sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('orders_order', 'payments_authorization') AND sql IS NOT NULL ORDER BY name"
                    )
                )
            }
            #expect(orders == ["o-1 PENDING 1250 auth_1"])
            #expect(authorizations == ["auth_1 agent-1/o-1 AUTHORIZED"])
            #expect(indexes == [
                // orders_order_authorization is gone since orders.v5: recovery finds orders by key.
                "orders_order_agent_recent", "orders_order_merchant_recent", "orders_order_open", "payments_authorization_open",
            ])
            await #expect(throws: DatabaseError.self) {
                try await upgraded.batchedWriter.write { db in try db.execute(sql: "UPDATE orders_order SET state = 'LOST'") }
            }
            await #expect(throws: DatabaseError.self) {
                try await upgraded.batchedWriter.write { db in try db.execute(sql: "UPDATE payments_authorization SET state = 'LOST'") }
            }
        }
    }
}
