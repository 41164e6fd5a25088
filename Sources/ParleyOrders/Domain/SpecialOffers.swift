/// A merchant's "buy C too?" rule: when an order holds every SKU in
/// ``whenAllOf`` and not ``suggestedSKU``, the response suggests adding it.
public struct ItemSuggestionRule: Sendable, Hashable {
    /// The rule's id, for the merchant's records.
    public var id: String
    /// The SKUs that must all be on the order (A and B).
    public var whenAllOf: Set<String>
    /// The SKU to suggest (C).
    public var suggestedSKU: String
    /// How many units to suggest.
    public var quantity: Int64
    /// The text shown with the suggestion, or `nil` for a default.
    public var message: String?

    /// Creates a rule.
    public init(id: String, whenAllOf: Set<String>, suggestedSKU: String, quantity: Int64 = 1, message: String? = nil) {
        self.id = id
        self.whenAllOf = whenAllOf
        self.suggestedSKU = suggestedSKU
        self.quantity = quantity
        self.message = message
    }
}

/// A merchant's special offer: buy ``qualifyingQuantity`` of ``qualifyingSKU``
/// and get ``freeQuantity`` of ``freeSKU`` free, as often as the order qualifies
/// (up to ``maximumFreeQuantity``), while the offer is valid.
public struct FreeItemOffer: Sendable, Hashable {
    /// The offer's id.
    public var id: String
    /// The SKU to buy.
    public var qualifyingSKU: String
    /// Units to buy for each grant.
    public var qualifyingQuantity: Int64
    /// The SKU given free.
    public var freeSKU: String
    /// Units given per grant.
    public var freeQuantity: Int64
    /// The most free units one order gets, or `nil` for no cap.
    public var maximumFreeQuantity: Int64?
    /// The offer starts at this Unix-millisecond instant (inclusive), or always has.
    public var validFromMilliseconds: Int64?
    /// The offer ends at this Unix-millisecond instant (exclusive), or never does.
    public var validUntilMilliseconds: Int64?

    /// Creates an offer.
    public init(
        id: String,
        qualifyingSKU: String,
        qualifyingQuantity: Int64 = 1,
        freeSKU: String,
        freeQuantity: Int64 = 1,
        maximumFreeQuantity: Int64? = nil,
        validFromMilliseconds: Int64? = nil,
        validUntilMilliseconds: Int64? = nil
    ) {
        self.id = id
        self.qualifyingSKU = qualifyingSKU
        self.qualifyingQuantity = qualifyingQuantity
        self.freeSKU = freeSKU
        self.freeQuantity = freeQuantity
        self.maximumFreeQuantity = maximumFreeQuantity
        self.validFromMilliseconds = validFromMilliseconds
        self.validUntilMilliseconds = validUntilMilliseconds
    }

    /// True when the offer is valid at `now` (Unix milliseconds).
    public func isValid(at now: Int64) -> Bool {
        if let from = validFromMilliseconds, now < from { return false }
        if let until = validUntilMilliseconds, now >= until { return false }
        return true
    }
}

/// Free units that an offer adds to an order, at no charge.
public struct FreeItemGrant: Sendable, Hashable {
    /// The offer that grants them.
    public var offerID: String
    /// The free item (its weight and hazmat class count for shipping).
    public var item: CatalogItem
    /// How many units.
    public var quantity: Int64
    /// What the units would have cost: `item.unitPrice(forQuantity:) × quantity`.
    public var retailValue: Money
}

/// Pure evaluation of merchant-configured suggestions and special offers.
public enum SpecialOffers {
    /// The "buy C too?" notices for an order whose priced lines are `lines`.
    ///
    /// A rule fires when every SKU of ``ItemSuggestionRule/whenAllOf`` is on the
    /// order and the suggested SKU is not. Each notice's single alternative adds a
    /// line `lines[n]` (n: the request's line count) with the suggested SKU and
    /// quantity; its price difference is the catalog line price.
    public static func suggestions(for lines: [PricedLine], requestLineCount: Int, rules: [ItemSuggestionRule], catalog: Catalog) -> [Amendment] {
        let present = Set(lines.map(\.item.sku))
        var amendments = [Amendment]()
        var suggested = Set<String>()
        for rule in rules where rule.whenAllOf.isSubset(of: present) && !present.contains(rule.suggestedSKU) && rule.quantity >= 1 {
            guard let item = catalog.item(sku: rule.suggestedSKU), suggested.insert(item.sku).inserted,
                  let price = try? item.linePrice(quantity: rule.quantity) else { continue }
            let newPath = "lines[\(requestLineCount + amendments.count)]"
            amendments.append(Amendment(
                path: "lines",
                code: .itemSuggested,
                message: rule.message ?? "customers who buy \(rule.whenAllOf.sorted().joined(separator: " and ")) also buy \(item.title)",
                isBlocking: false,
                alternatives: [Amendment.Alternative(
                    description: "add \(rule.quantity) × \(item.title) for \(price)",
                    replacements: [
                        .init(path: "\(newPath).sku", value: .text(item.sku)),
                        .init(path: "\(newPath).quantity", value: .integer(rule.quantity)),
                    ],
                    priceDifference: price
                )]
            ))
        }
        return amendments
    }

    /// The free items that valid offers add to `lines` at `now`, and a notice for each.
    ///
    /// Grants = ⌊units of the qualifying SKU on the order ÷ qualifying quantity⌋ ×
    /// free quantity, capped by the offer's maximum. Offers whose free SKU is not in
    /// the catalog are skipped.
    public static func freeItems(for lines: [PricedLine], offers: [FreeItemOffer], catalog: Catalog, now: Int64) -> (grants: [FreeItemGrant], amendments: [Amendment]) {
        var units = [String: Int64]()
        var firstLine = [String: Int]()
        for line in lines {
            units[line.item.sku, default: 0] &+= line.quantity
            if firstLine[line.item.sku] == nil { firstLine[line.item.sku] = line.index }
        }
        var grants = [FreeItemGrant]()
        var amendments = [Amendment]()
        for offer in offers where offer.isValid(at: now) && offer.qualifyingQuantity >= 1 && offer.freeQuantity >= 1 {
            guard let bought = units[offer.qualifyingSKU], let item = catalog.item(sku: offer.freeSKU) else { continue }
            let (raw, overflow) = (bought / offer.qualifyingQuantity).multipliedReportingOverflow(by: offer.freeQuantity)
            var quantity = overflow ? Int64.max : raw
            if let cap = offer.maximumFreeQuantity { quantity = min(quantity, cap) }
            guard quantity >= 1, let value = try? item.linePrice(quantity: quantity) else { continue }
            grants.append(FreeItemGrant(offerID: offer.id, item: item, quantity: quantity, retailValue: value))
            amendments.append(Amendment(
                path: "lines[\(firstLine[offer.qualifyingSKU] ?? 0)]",
                code: .freeItemAdded,
                message: "\(quantity) × \(item.title) (worth \(value)) comes free with this order",
                isBlocking: false
            ))
        }
        return (grants, amendments)
    }
}
