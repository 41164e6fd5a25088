import GRDB
import ParleyStore
@testable import ParleyWarehouse
import Testing

/// Query plans of the warehouse's reads that run per call. A plan that
/// starts from the wrong table turns a cheap read into a scan of every
/// reservation line (seen: GetAvailability for 1,000 SKUs after 50,000
/// reservations took minutes).
@Suite("Warehouse query plans")
struct WarehouseQueryPlanTests {
    @Test("lapsed holds are found from the partial index of HELD reservations by expiry, not from the lines")
    func dueHeldStartsFromTheDueIndex() throws {
        let database = try ParleyDatabase.inMemory(migrations: WarehouseSchema.migrations)
        let plan = try database.writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + Store.dueHeldSQL, arguments: [0]).map { $0["detail"] as String }
        }
        #expect(plan.first?.contains("warehouse_reservation_due") == true, "plan: \(plan)")
        #expect(plan.dropFirst().allSatisfy { !$0.hasPrefix("SCAN") }, "plan: \(plan)")
    }

    @Test("the hot path's free count looks its SKU up by key and its lapsed holds up from the due index")
    func freeNowUsesKeys() throws {
        let database = try ParleyDatabase.inMemory(migrations: WarehouseSchema.migrations)
        let plan = try database.writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + Store.freeNowSQL, arguments: [0, "m", "s"]).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("warehouse_reservation_due") }, "plan: \(plan)")
        #expect(plan.allSatisfy { !$0.hasPrefix("SCAN") }, "plan: \(plan)")
    }

    @Test("reservation listings walk an index newest first: no scan of every reservation, no sort", arguments: [
        WarehouseCaller(principal: "widgets", kinds: [.merchant]),
        WarehouseCaller(principal: "acme-travel", kinds: [.agent]),
        WarehouseCaller(principal: "ops", kinds: [.admin]),
    ])
    func listingsUseIndexes(_ caller: WarehouseCaller) throws {
        let database = try ParleyDatabase.inMemory(migrations: WarehouseSchema.migrations)
        for filter in ["", "AND r.state = 'HELD' AND r.expires_at_ms > ?"] {
            let (sql, arguments) = Warehouse.listingSQL(caller: caller, stateFilter: filter)
            let all = arguments + (filter.isEmpty ? [] : [0]) + [10]
            let plan = try database.writer.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: all).map { $0["detail"] as String }
            }
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "plan: \(plan)")
            if !caller.isPrivileged {
                #expect(plan.allSatisfy { !$0.hasPrefix("SCAN") }, "plan: \(plan)")
            }
        }
    }
}
