import ArgumentParser

/// The `reserve` scenario's settings, defaults filled in; echoed in the JSON report.
struct ReserveSettings: Sendable, Codable, Hashable {
    /// SKUs `sku-00000` … stocked and reserved from.
    var skus: Int
    /// The first this many SKUs are hot.
    var hotSkus: Int
    /// The fraction of reservations that go to a hot SKU.
    var hotShare: Double
    /// Free units each SKU is topped up to before the run.
    var unitsPerSku: Int64
    /// The fraction of reservations confirmed; the rest are released.
    var confirmShare: Double
    /// The merchant whose stock is reserved.
    var merchant: String
    /// The window each reservation asks for.
    var holdSeconds: UInt32

    static let defaults = ReserveSettings(
        skus: 10_000,
        hotSkus: 10,
        hotShare: 0.2,
        unitsPerSku: 1_000_000,
        confirmShare: 0.5,
        merchant: "load-merchant",
        holdSeconds: 600
    )
}

/// The command-line options of the `reserve` scenario. All optional, so that
/// giving one with another scenario can be refused instead of ignored.
struct ReserveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("SKUs to stock and reserve from, sku-00000 onwards (default: \(ReserveSettings.defaults.skus)).", valueName: "n"))
    var skus: Int?

    @Option(help: ArgumentHelp(
        "How many of those SKUs (the first ones) are hot (default: \(ReserveSettings.defaults.hotSkus), or --skus if fewer).",
        valueName: "n"
    ))
    var hotSkus: Int?

    @Option(help: ArgumentHelp(
        "The fraction of reservations that go to a hot SKU; the others are uniform over the rest (default: \(ReserveSettings.defaults.hotShare)).",
        valueName: "p"
    ))
    var hotShare: Double?

    @Option(help: ArgumentHelp(
        "Free units per SKU before the run: each SKU with fewer is topped up to this (default: \(ReserveSettings.defaults.unitsPerSku)).",
        valueName: "n"
    ))
    var unitsPerSku: Int64?

    @Option(help: ArgumentHelp(
        "The fraction of reservations confirmed; the others are released (default: \(ReserveSettings.defaults.confirmShare)).",
        valueName: "p"
    ))
    var confirmShare: Double?

    @Option(help: ArgumentHelp("The merchant whose stock is allocated and reserved (default: \(ReserveSettings.defaults.merchant)).", valueName: "name"))
    var merchant: String?

    /// The options given, by flag name, for refusing them with another scenario.
    var given: [String] {
        var names: [String] = []
        if skus != nil { names.append("--skus") }
        if hotSkus != nil { names.append("--hot-skus") }
        if hotShare != nil { names.append("--hot-share") }
        if unitsPerSku != nil { names.append("--units-per-sku") }
        if confirmShare != nil { names.append("--confirm-share") }
        if merchant != nil { names.append("--merchant") }
        return names
    }

    var settings: ReserveSettings {
        let defaults = ReserveSettings.defaults
        let skus = self.skus ?? defaults.skus
        return ReserveSettings(
            skus: skus,
            hotSkus: hotSkus ?? min(defaults.hotSkus, max(skus, 0)),
            hotShare: hotShare ?? defaults.hotShare,
            unitsPerSku: unitsPerSku ?? defaults.unitsPerSku,
            confirmShare: confirmShare ?? defaults.confirmShare,
            merchant: merchant ?? defaults.merchant,
            holdSeconds: defaults.holdSeconds
        )
    }

    /// Most SKUs: preparing a million already takes 2,000 calls.
    static let maxSkus = 1_000_000
    /// The server's bound on one adjustment.
    static let maxUnitsPerSku: Int64 = 1_000_000_000

    /// Checks the values; called by ``ParleyLoad/validate()`` for `--scenario reserve`
    /// (not `validate()`, which ArgumentParser would run for every scenario).
    func check() throws {
        let settings = self.settings
        guard (1...Self.maxSkus).contains(settings.skus) else {
            throw ValidationError("--skus must be between 1 and \(Self.maxSkus)")
        }
        guard (0...settings.skus).contains(settings.hotSkus) else {
            throw ValidationError("--hot-skus must be between 0 and --skus (\(settings.skus))")
        }
        guard (0...1).contains(settings.hotShare) else { throw ValidationError("--hot-share must be between 0 and 1") }
        guard (0...1).contains(settings.confirmShare) else { throw ValidationError("--confirm-share must be between 0 and 1") }
        guard (1...Self.maxUnitsPerSku).contains(settings.unitsPerSku) else {
            throw ValidationError("--units-per-sku must be between 1 and \(Self.maxUnitsPerSku)")
        }
        let merchant = settings.merchant
        guard !merchant.isEmpty, merchant.utf8.count <= 128, !merchant.contains(where: { $0.isNewline || $0 == "\u{0}" }) else {
            throw ValidationError("--merchant must be 1 to 128 bytes without control characters")
        }
    }
}
