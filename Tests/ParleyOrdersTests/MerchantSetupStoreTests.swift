import Logging
import ParleyOrders
import ParleyProtos
import ParleyStore
import Testing

/// The set-up compiled at start-up from the tables is the one the running
/// daemon had built in memory from its writes.
@Suite("Merchant set-up storage")
struct MerchantSetupStoreTests {
    @Test("a restarted subsystem compiles the same catalog and configuration from the tables")
    func reloadMatches() async throws {
        let database = try ParleyDatabase.inMemory(migrations: OrdersSchema.migrations)
        let clock = ManualWallClock(startingAt: 1_000)
        let running = try Orders(database: database, warehouse: nil, clock: clock, logger: Logger(label: "test"))
        var configuration = NegotiateLiveTests.configuration
        configuration.merchant = "lamps"
        _ = try await running.applyConfiguration(configuration)
        _ = try await running.importCatalog(merchant: "lamps", items: [NegotiateLiveTests.item("lamp", cents: 1_999, grams: 1_200)])
        _ = try await running.importCatalog(
            merchant: "lamps",
            items: [NegotiateLiveTests.item("solvent", cents: 850, grams: 900, hazmat: "3"), NegotiateLiveTests.item("lamp", cents: 2_199, grams: 1_200)]
        )
        let restarted = try Orders(database: database, warehouse: nil, clock: clock, logger: Logger(label: "test"))
        let before = try #require(running.setup(for: "lamps"))
        let after = try #require(restarted.setup(for: "lamps"))
        #expect(after.catalog == before.catalog)
        #expect(after.catalog.items.map(\.sku) == ["lamp", "solvent"])
        #expect(after.catalog.item(sku: "lamp")?.unitPrice.minorUnits == 2_199)
        #expect(after.configuration == before.configuration)
        #expect(restarted.catalogItems(merchant: "lamps", after: "lamp", limit: 10).map(\.sku) == ["solvent"])
    }

    @Test("imports merge into the catalog in force: new SKUs fall in order between the old, repeated ones replace them, and the result equals the catalog compiled from the tables")
    func importsMerge() async throws {
        let database = try ParleyDatabase.inMemory(migrations: OrdersSchema.migrations)
        let clock = ManualWallClock(startingAt: 1_000)
        let running = try Orders(database: database, warehouse: nil, clock: clock, logger: Logger(label: "test"))
        let batches: [[(String, Int64)]] = [
            [("m", 100), ("c", 101)],
            [("z", 102), ("a", 103), ("m", 104)],
            [("b", 105), ("y", 106), ("c", 107), ("n", 108)],
            [("a", 109)],
        ]
        for batch in batches {
            _ = try await running.importCatalog(merchant: "lamps", items: batch.map { NegotiateLiveTests.item($0.0, cents: $0.1, grams: 500) })
        }
        let merged = try #require(running.setup(for: "lamps")).catalog
        #expect(merged.items.map(\.sku) == ["a", "b", "c", "m", "n", "y", "z"])
        #expect(merged.items.map(\.unitPrice.minorUnits) == [109, 105, 107, 104, 108, 106, 102])
        #expect(running.catalogItems(merchant: "lamps", after: "c", limit: 2).map(\.sku) == ["m", "n"])
        let restarted = try Orders(database: database, warehouse: nil, clock: clock, logger: Logger(label: "test"))
        #expect(try #require(restarted.setup(for: "lamps")).catalog == merged)
    }

    @Test("concurrent imports and configurations each land whole: no change compiles against a set-up another replaces")
    func concurrentChanges() async throws {
        let database = try ParleyDatabase.inMemory(migrations: OrdersSchema.migrations)
        let clock = ManualWallClock(startingAt: 1_000)
        let orders = try Orders(database: database, warehouse: nil, clock: clock, logger: Logger(label: "test"))
        let configuration = {
            var configuration = NegotiateLiveTests.configuration
            configuration.merchant = "lamps"
            return configuration
        }()
        _ = try await orders.applyConfiguration(configuration)
        let imports = 40
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<imports {
                group.addTask {
                    let sku = "lamp-\(index)"
                    _ = try await orders.importCatalog(merchant: "lamps", items: [NegotiateLiveTests.item(sku, cents: 1_000 + Int64(index), grams: 500)])
                }
                if index % 8 == 0 {
                    group.addTask { _ = try await orders.applyConfiguration(configuration) }
                }
            }
            try await group.waitForAll()
        }
        // Each import merged into the set-up in force when its turn came, so
        // none was dropped by another installing a catalog compiled earlier.
        let inMemory = try #require(orders.setup(for: "lamps"))
        #expect(inMemory.catalog.items.count == imports)
        let restarted = try Orders(database: database, warehouse: nil, clock: clock, logger: Logger(label: "test"))
        #expect(try #require(restarted.setup(for: "lamps")).catalog == inMemory.catalog)
    }
}
