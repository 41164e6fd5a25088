import Foundation
import GRDB
import Logging
import ParleyProtos
import ParleyStore
import ParleyWire
import SwiftProtobuf

extension Orders {
    /// The most catalog items in one import call.
    public static let maxImportItems = 5_000

    /// Adds or replaces `items` in `merchant`'s catalog, all or none.
    public func importCatalog(
        merchant: String,
        items wireItems: [Parley_V1_CatalogItem],
        onCommit: CommitHook<Parley_V1_ImportCatalogResponse>? = nil
    ) async throws -> Parley_V1_ImportCatalogResponse {
        try Self.validateName(merchant, field: "merchant")
        guard !wireItems.isEmpty else { throw OrdersError.invalid("items", "at least one item") }
        guard wireItems.count <= Self.maxImportItems else {
            throw OrdersError.invalid("items", "at most \(Self.maxImportItems) items per call")
        }
        return try await oneSetupChangeAtATime {
            // The currency: the configured one, else the first item's.
            let current = setup(for: merchant)
            let currency: CurrencyCode
            if let current {
                currency = current.currency
            } else {
                currency = try CurrencyCode.parse(wireItems[0].unitPrice.currency, field: "items[0].unit_price.currency")
            }
            var seen = Set<String>()
            let items = try wireItems.enumerated().map { index, wire throws(OrdersError) in
                guard seen.insert(wire.sku).inserted else { throw OrdersError.invalid("items[\(index)].sku", "SKU '\(wire.sku)' appears twice") }
                try Self.validateName(wire.sku, field: "items[\(index)].sku")
                return try CatalogItem(wire: wire, currency: currency, path: "items[\(index)]")
            }
            // Merged into the set-up in force, and compiled, before anything
            // is written: no other change can land before this one installs it.
            let updated = try current?.mergingIntoCatalog(items)
                ?? MerchantSetup.unconfigured(merchant: merchant, currency: currency, items: items)
            let stored = items.map { ($0.sku, try! $0.wire.serializedBytes() as [UInt8]) }
            let clock = self.clock
            let response = try await database.batchedWriter.write { db -> Parley_V1_ImportCatalogResponse in
                // A stored configuration that did not compile at start-up has
                // no set-up in memory; its currency still binds the catalog.
                if let configured = try String.fetchOne(
                    cached: db,
                    sql: "SELECT currency FROM orders_merchant_configuration WHERE merchant = ?",
                    arguments: [merchant]
                ), configured != currency.rawValue {
                    throw OrdersError(code: .currencyMismatch, message: "the merchant's currency is \(configured)", field: "items[0].unit_price.currency")
                }
                let now = clock.nowMilliseconds
                for (sku, bytes) in stored {
                    try db.executeCached(
                        sql: """
                            INSERT INTO orders_catalog_item (merchant, sku, currency, item, updated_at_ms) VALUES (?, ?, ?, ?, ?)
                            ON CONFLICT (merchant, sku) DO UPDATE SET currency = excluded.currency, item = excluded.item,
                                updated_at_ms = excluded.updated_at_ms
                            """,
                        arguments: [merchant, sku, currency.rawValue, Data(bytes), now]
                    )
                }
                var response = Parley_V1_ImportCatalogResponse()
                response.imported = Int32(stored.count)
                response.catalogSize = try Int64.fetchOne(cached: db, sql: "SELECT COUNT(*) FROM orders_catalog_item WHERE merchant = ?", arguments: [merchant]) ?? 0
                try onCommit?(db, response)
                return response
            }
            setups.replace(updated)
            return response
        }
    }

    /// Replaces `merchant`'s configuration after validating it against its catalog.
    public func applyConfiguration(
        _ request: Parley_V1_MerchantConfiguration,
        onCommit: CommitHook<Parley_V1_MerchantConfiguration>? = nil
    ) async throws -> Parley_V1_MerchantConfiguration {
        try Self.validateName(request.merchant, field: "configuration.merchant")
        return try await oneSetupChangeAtATime {
            var configuration = request
            configuration.appliedAtMs = clock.nowMilliseconds
            let merchant = configuration.merchant
            // Compiled with the catalog in force, which no other change can
            // replace before this one installs it: every rule is checked
            // before anything is written, and nothing can fail after.
            let previous = setup(for: merchant)
            let compiled = try MerchantSetup(configuration: configuration, items: previous?.catalog.items ?? [])
            let bytes = Data(try configuration.serializedBytes() as [UInt8])
            let currency = configuration.currency
            let applied = configuration
            try await database.batchedWriter.write { db in
                let other = try Int.fetchOne(
                    cached: db,
                    sql: "SELECT COUNT(*) FROM orders_catalog_item WHERE merchant = ? AND currency <> ?",
                    arguments: [merchant, currency]
                ) ?? 0
                guard other == 0 else {
                    throw OrdersError(
                        code: .currencyMismatch,
                        message: "\(other) catalog items are priced in another currency; re-import them in \(currency) first",
                        field: "configuration.currency"
                    )
                }
                try db.executeCached(
                    sql: """
                        INSERT INTO orders_merchant_configuration (merchant, currency, configuration, applied_at_ms) VALUES (?, ?, ?, ?)
                        ON CONFLICT (merchant) DO UPDATE SET currency = excluded.currency, configuration = excluded.configuration,
                            applied_at_ms = excluded.applied_at_ms
                        """,
                    arguments: [merchant, currency, bytes, applied.appliedAtMs]
                )
                try onCommit?(db, applied)
            }
            setups.replace(compiled)
            // Rules that now count quotes or refusals for more key kinds: the
            // events already held for them go into the next snapshot.
            fraud.markChanged(kinds: compiled.fraudSnapshotKinds.subtracting(previous?.fraudSnapshotKinds ?? []), merchant: merchant)
            return applied
        }
    }

    /// Runs set-up changes one at a time, in the order they arrive, across
    /// their awaits: each compiles against the set-up in force and installs
    /// what it compiled once its transaction has committed, with no other
    /// change in between. Changes are rare; negotiations never wait here.
    private func oneSetupChangeAtATime<T: Sendable>(_ change: () async throws -> T) async throws -> T {
        if setupChangeRunning {
            await withCheckedContinuation { setupChangeQueue.append($0) }
        } else {
            setupChangeRunning = true
        }
        defer {
            // The turn passes straight to the next in line, if any.
            if setupChangeQueue.isEmpty { setupChangeRunning = false } else { setupChangeQueue.removeFirst().resume() }
        }
        // A caller that gave up while waiting (its deadline passed) changes nothing.
        try Task.checkCancellation()
        return try await change()
    }

    /// The configuration in force, or the defaults of an unconfigured merchant.
    public nonisolated func configuration(merchant: String) -> Parley_V1_MerchantConfiguration? {
        setup(for: merchant)?.configuration
    }

    /// One catalog item.
    public nonisolated func catalogItem(merchant: String, sku: String) -> Parley_V1_CatalogItem? {
        setup(for: merchant)?.catalog.item(sku: sku)?.wire
    }

    /// Catalog items in SKU order after `afterSKU`.
    public nonisolated func catalogItems(merchant: String, after afterSKU: String, limit: Int) -> [Parley_V1_CatalogItem] {
        guard let catalog = setup(for: merchant)?.catalog else { return [] }
        return catalog.items(after: afterSKU, limit: min(max(limit, 1), 1000)).map(\.wire)
    }

    // MARK: Loading

    /// Compiles every stored set-up (at start-up).
    nonisolated func loadSetups() throws {
        let merchants = try database.writer.read { db in
            try String.fetchAll(db, sql: "SELECT merchant FROM orders_merchant_configuration UNION SELECT DISTINCT merchant FROM orders_catalog_item")
        }
        for merchant in merchants {
            do {
                if let setup = try storedSetup(merchant: merchant) { setups.replace(setup) }
            } catch {
                // A set-up that no longer compiles (a rule this version refuses)
                // leaves that merchant unable to negotiate, not the daemon down.
                logger.error("merchant set-up does not compile", metadata: ["merchant": "\(merchant)", "error": "\(error)"])
            }
        }
    }

    /// `merchant`'s set-up compiled from what is stored, nil if nothing is.
    private nonisolated func storedSetup(merchant: String) throws -> MerchantSetup? {
        let (configurationBytes, rows) = try database.writer.read { db in
            (
                try Data.fetchOne(db, sql: "SELECT configuration FROM orders_merchant_configuration WHERE merchant = ?", arguments: [merchant]),
                try Row.fetchAll(db, sql: "SELECT currency, item FROM orders_catalog_item WHERE merchant = ?", arguments: [merchant])
            )
        }
        let configuration = try configurationBytes.map { try Parley_V1_MerchantConfiguration(serializedBytes: $0) }
        guard let currencyCode = configuration?.currency ?? rows.first.map({ $0["currency"] as String }) else { return nil }
        let currency = try CurrencyCode.parse(currencyCode, field: "currency")
        let items = try rows.enumerated().map { index, row in
            try CatalogItem(wire: Parley_V1_CatalogItem(serializedBytes: row["item"] as Data), currency: currency, path: "items[\(index)]")
        }
        guard let configuration else { return try MerchantSetup.unconfigured(merchant: merchant, currency: currency, items: items) }
        return try MerchantSetup(configuration: configuration, items: items)
    }

    static func validateName(_ value: String, field: String) throws(OrdersError) {
        if let problem = NameRule.problem(value) { throw .invalid(field, problem) }
    }
}
