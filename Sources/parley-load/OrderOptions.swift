import ArgumentParser

/// The settings of the `negotiate` and `capture` scenarios, defaults filled
/// in; echoed in the JSON report.
struct OrderSettings: Sendable, Codable, Hashable {
    /// Items in the merchant's catalog, `sku-00000` onwards.
    var catalogItems: Int
    /// The first this many SKUs are stocked, and orders pick from them.
    var stockedSkus: Int
    /// Free units each stocked SKU is topped up to before the run.
    var unitsPerSku: Int64
    /// The merchant set up and ordered from.
    var merchant: String
    /// Lines per order, each a different SKU.
    var linesPerOrder: Int

    static let defaults = OrderSettings(
        catalogItems: 100_000,
        stockedSkus: 1000,
        unitsPerSku: 1_000_000,
        merchant: "load-shop",
        linesPerOrder: 3
    )
}

/// The command-line options of the `negotiate` and `capture` scenarios. All
/// optional, so that giving one with another scenario can be refused instead
/// of ignored. Named apart from the `reserve` options (`--order-merchant`,
/// `--stock-per-sku`) because both groups share one command line.
struct OrderOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Items in the merchant's catalog, sku-00000 onwards, imported unless the last one is already there (default: \(OrderSettings.defaults.catalogItems)).",
        valueName: "n"
    ))
    var catalogItems: Int?

    @Option(help: ArgumentHelp(
        "How many of those SKUs (the first ones) are stocked; orders pick their lines from them (default: \(OrderSettings.defaults.stockedSkus), or --catalog-items if fewer).",
        valueName: "n"
    ))
    var stockedSkus: Int?

    @Option(help: ArgumentHelp(
        "Free units per stocked SKU before the run: each with fewer is topped up to this (default: \(OrderSettings.defaults.unitsPerSku)).",
        valueName: "n"
    ))
    var stockPerSku: Int64?

    @Option(help: ArgumentHelp(
        "The merchant configured, stocked and ordered from (default: \(OrderSettings.defaults.merchant)).",
        valueName: "name"
    ))
    var orderMerchant: String?

    /// The options given, by flag name, for refusing them with another scenario.
    var given: [String] {
        var names: [String] = []
        if catalogItems != nil { names.append("--catalog-items") }
        if stockedSkus != nil { names.append("--stocked-skus") }
        if stockPerSku != nil { names.append("--stock-per-sku") }
        if orderMerchant != nil { names.append("--order-merchant") }
        return names
    }

    var settings: OrderSettings {
        let defaults = OrderSettings.defaults
        let catalogItems = self.catalogItems ?? defaults.catalogItems
        return OrderSettings(
            catalogItems: catalogItems,
            stockedSkus: stockedSkus ?? min(defaults.stockedSkus, max(catalogItems, 0)),
            unitsPerSku: stockPerSku ?? defaults.unitsPerSku,
            merchant: orderMerchant ?? defaults.merchant,
            linesPerOrder: defaults.linesPerOrder
        )
    }

    /// Most catalog items: importing a million already takes 1,000 calls.
    static let maxCatalogItems = 1_000_000

    /// Checks the values; called by ``ParleyLoad/validate()`` for `--scenario
    /// negotiate` and `capture` (not `validate()`, which ArgumentParser would
    /// run for every scenario).
    func check() throws {
        let settings = self.settings
        guard (settings.linesPerOrder...Self.maxCatalogItems).contains(settings.catalogItems) else {
            throw ValidationError("--catalog-items must be between \(settings.linesPerOrder) and \(Self.maxCatalogItems)")
        }
        guard (settings.linesPerOrder...settings.catalogItems).contains(settings.stockedSkus) else {
            throw ValidationError(
                "--stocked-skus must be between \(settings.linesPerOrder) (the lines of an order) and --catalog-items (\(settings.catalogItems))"
            )
        }
        guard (1...ReserveOptions.maxUnitsPerSku).contains(settings.unitsPerSku) else {
            throw ValidationError("--stock-per-sku must be between 1 and \(ReserveOptions.maxUnitsPerSku)")
        }
        let merchant = settings.merchant
        guard !merchant.isEmpty, merchant.utf8.count <= 128, !merchant.contains(where: { $0.isNewline || $0 == "\u{0}" }) else {
            throw ValidationError("--order-merchant must be 1 to 128 bytes without control characters")
        }
    }
}
