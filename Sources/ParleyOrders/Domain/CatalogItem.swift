/// A hazardous-materials class, as shipping regulations name them (`3` for
/// flammable liquids, `8` for corrosives, `9` for miscellaneous such as lithium
/// batteries). An item that is not hazardous has no class (`nil`).
public struct HazmatClass: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The class designation, such as `3` or `4.1`.
    public let rawValue: String
    /// Creates a value from its name; prefer the static members.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Class 1: explosives.
    public static let explosives = HazmatClass(rawValue: "1")
    /// Class 2: gases.
    public static let gases = HazmatClass(rawValue: "2")
    /// Class 3: flammable liquids.
    public static let flammableLiquids = HazmatClass(rawValue: "3")
    /// Class 8: corrosives (nitric acid).
    public static let corrosives = HazmatClass(rawValue: "8")
    /// Class 9: miscellaneous (lithium batteries, dry ice).
    public static let miscellaneous = HazmatClass(rawValue: "9")

    public var description: String { "hazmat class \(rawValue)" }
    public static func < (lhs: HazmatClass, rhs: HazmatClass) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// How an item is treated by tax rules. A ``TaxRule`` maps categories to
/// rates or exemptions; a category a rule does not mention is taxed at the
/// rule's standard rate.
public struct TaxCategory: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The category name, such as `general`.
    public let rawValue: String
    /// Creates a value from its name; prefer the static members.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Ordinary goods: the standard rate.
    public static let general = TaxCategory(rawValue: "general")
    /// Goods with a reduced rate where one exists (UK VAT 5%: child car seats, energy-saving goods).
    public static let reduced = TaxCategory(rawValue: "reduced")
    /// Zero-rated goods where that exists (UK books, children's clothes; Canadian basic groceries); taxable elsewhere unless a rule says otherwise.
    public static let zeroRated = TaxCategory(rawValue: "zero_rated")
    /// Goods outside every tax in the default tables.
    public static let exempt = TaxCategory(rawValue: "exempt")

    public var description: String { rawValue }
    public static func < (lhs: TaxCategory, rhs: TaxCategory) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A volume price: from `minimumQuantity` units on, each unit costs `unitPrice`.
public struct VolumePriceTier: Sendable, Hashable {
    /// The least quantity in one order line that gets this price (at least 2).
    public var minimumQuantity: Int64
    /// The price of each unit at this volume.
    public var unitPrice: Money

    /// Creates a tier.
    public init(minimumQuantity: Int64, unitPrice: Money) {
        self.minimumQuantity = minimumQuantity
        self.unitPrice = unitPrice
    }
}

/// One item a merchant sells, as set up by the merchant.
public struct CatalogItem: Sendable, Hashable {
    /// The merchant's stock keeping unit; unique in its catalog.
    public var sku: String
    /// The name shown to buyers.
    public var title: String
    /// The item class (category) used by fraud rules, coupon scopes and offers, such as `electronics`.
    public var itemClass: String
    /// The price of one unit below every volume tier.
    public var unitPrice: Money
    /// Lower unit prices for larger quantities, by ascending ``VolumePriceTier/minimumQuantity``.
    public var priceTiers: [VolumePriceTier]
    /// The most units one order may contain, or `nil` for no limit.
    public var perOrderQuantityLimit: Int64?
    /// The shipping weight of one unit in grams.
    public var weightGrams: Int64
    /// The hazardous-materials class, or `nil` if the item is not hazardous.
    public var hazmatClass: HazmatClass?
    /// The payment kinds this item may be paid with; empty means any kind the merchant accepts.
    public var allowedPaymentKinds: Set<PaymentKind>
    /// How tax rules treat the item.
    public var taxCategory: TaxCategory

    /// Creates an item.
    public init(
        sku: String,
        title: String,
        itemClass: String,
        unitPrice: Money,
        priceTiers: [VolumePriceTier] = [],
        perOrderQuantityLimit: Int64? = nil,
        weightGrams: Int64,
        hazmatClass: HazmatClass? = nil,
        allowedPaymentKinds: Set<PaymentKind> = [],
        taxCategory: TaxCategory = .general
    ) {
        self.sku = sku
        self.title = title
        self.itemClass = itemClass
        self.unitPrice = unitPrice
        self.priceTiers = priceTiers
        self.perOrderQuantityLimit = perOrderQuantityLimit
        self.weightGrams = weightGrams
        self.hazmatClass = hazmatClass
        self.allowedPaymentKinds = allowedPaymentKinds
        self.taxCategory = taxCategory
    }

    /// True when the item may be paid with `kind`.
    public func allows(_ kind: PaymentKind) -> Bool {
        allowedPaymentKinds.isEmpty || allowedPaymentKinds.contains(kind)
    }

    /// Checks the item's own consistency; errors name the field under `path` (such as `items[3]`).
    public func validate(path: String) throws(OrdersError) {
        if sku.isEmpty { throw .configuration("\(path).sku", "a SKU cannot be empty") }
        if title.isEmpty { throw .configuration("\(path).title", "a title cannot be empty") }
        if unitPrice.isNegative { throw .configuration("\(path).unit_price", "a price cannot be negative") }
        if weightGrams < 0 { throw .configuration("\(path).weight_grams", "a weight cannot be negative") }
        if let limit = perOrderQuantityLimit, limit < 1 {
            throw .configuration("\(path).per_order_quantity_limit", "a quantity limit must be at least 1")
        }
        var previous: VolumePriceTier?
        for (index, tier) in priceTiers.enumerated() {
            let tierPath = "\(path).price_tiers[\(index)]"
            if tier.unitPrice.currency != unitPrice.currency {
                throw .configuration("\(tierPath).unit_price", "tier currency \(tier.unitPrice.currency) differs from the item's \(unitPrice.currency)")
            }
            if tier.unitPrice.isNegative { throw .configuration("\(tierPath).unit_price", "a price cannot be negative") }
            if tier.minimumQuantity < 2 { throw .configuration("\(tierPath).min_quantity", "a tier starts at 2 units or more") }
            if let previous, tier.minimumQuantity <= previous.minimumQuantity {
                throw .configuration("\(tierPath).min_quantity", "tiers must be in ascending order of quantity")
            }
            previous = tier
        }
    }
}

/// A merchant's items, looked up by SKU. All prices are in one currency.
public struct Catalog: Sendable, Hashable {
    /// The merchant that sells these items.
    public let merchant: String
    /// The currency of every price.
    public let currency: CurrencyCode
    private let itemsBySKU: [String: CatalogItem]
    /// Every SKU in ascending order, sorted once here rather than per listing.
    private let sortedSKUs: [String]

    /// Builds a catalog, validating every item; errors name `items[i]....`.
    public init(merchant: String, currency: CurrencyCode, items: [CatalogItem]) throws(OrdersError) {
        var bySKU = [String: CatalogItem]()
        for (index, item) in items.enumerated() {
            try Self.check(item, at: index, currency: currency)
            guard bySKU.updateValue(item, forKey: item.sku) == nil else {
                throw .configuration("items[\(index)].sku", "duplicate SKU '\(item.sku)'")
            }
        }
        self.merchant = merchant
        self.currency = currency
        self.itemsBySKU = bySKU
        self.sortedSKUs = bySKU.keys.sorted()
    }

    /// This catalog with `items` added, or replacing those with the same
    /// SKU; only they are validated (errors name `items[i]....`, their
    /// index in `items`, which must not repeat a SKU). An import of a
    /// thousand items into a catalog of 100,000 then costs one copy of the
    /// catalog rather than building it again item by item: rebuilding was
    /// about 11 s of the 100 imports that fill such a catalog
    /// (docs/benchmarks.md, session 13).
    public func merging(_ items: [CatalogItem]) throws(OrdersError) -> Catalog {
        var bySKU = itemsBySKU
        var added: [String] = []
        for (index, item) in items.enumerated() {
            try Self.check(item, at: index, currency: currency)
            if bySKU.updateValue(item, forKey: item.sku) == nil { added.append(item.sku) }
        }
        guard !added.isEmpty else { return Catalog(merchant: merchant, currency: currency, itemsBySKU: bySKU, sortedSKUs: sortedSKUs) }
        // Both in order: one merge keeps every SKU in order.
        added.sort()
        var skus: [String] = []
        skus.reserveCapacity(sortedSKUs.count + added.count)
        var old = sortedSKUs[...]
        var new = added[...]
        while let next = new.first {
            if let first = old.first, first < next {
                skus.append(first)
                old = old.dropFirst()
            } else {
                skus.append(next)
                new = new.dropFirst()
            }
        }
        skus.append(contentsOf: old)
        return Catalog(merchant: merchant, currency: currency, itemsBySKU: bySKU, sortedSKUs: skus)
    }

    /// Validates `items[index]` of a catalog priced in `currency`.
    private static func check(_ item: CatalogItem, at index: Int, currency: CurrencyCode) throws(OrdersError) {
        try item.validate(path: "items[\(index)]")
        if item.unitPrice.currency != currency {
            throw .configuration("items[\(index)].unit_price", "price in \(item.unitPrice.currency), catalog is in \(currency)")
        }
    }

    private init(merchant: String, currency: CurrencyCode, itemsBySKU: [String: CatalogItem], sortedSKUs: [String]) {
        self.merchant = merchant
        self.currency = currency
        self.itemsBySKU = itemsBySKU
        self.sortedSKUs = sortedSKUs
    }

    /// The item with `sku`, or `nil`.
    public func item(sku: String) -> CatalogItem? { itemsBySKU[sku] }

    /// Every item, by SKU.
    public var items: [CatalogItem] { sortedSKUs.map { itemsBySKU[$0]! } }

    /// At most `limit` items with a SKU after `sku`, by SKU (a page of a listing).
    public func items(after sku: String, limit: Int) -> [CatalogItem] {
        var low = 0
        var high = sortedSKUs.count
        while low < high {
            let middle = (low + high) / 2
            if sortedSKUs[middle] <= sku { low = middle + 1 } else { high = middle }
        }
        return sortedSKUs[low...].prefix(max(0, limit)).map { itemsBySKU[$0]! }
    }
}
