/// One line of an order acceptance request, as the client sent it.
public struct OrderLineRequest: Sendable, Hashable {
    /// The SKU asked for.
    public var sku: String
    /// How many units.
    public var quantity: Int64
    /// The unit price the client expects to pay (from its catalog copy), if it states one.
    public var expectedUnitPrice: Money?

    /// Creates a request line.
    public init(sku: String, quantity: Int64, expectedUnitPrice: Money? = nil) {
        self.sku = sku
        self.quantity = quantity
        self.expectedUnitPrice = expectedUnitPrice
    }
}

/// A request line after the item check: the catalog's facts and the price.
public struct PricedLine: Sendable, Hashable {
    /// The line's index in the request (`lines[index]`).
    public var index: Int
    /// The catalog item.
    public var item: CatalogItem
    /// How many units.
    public var quantity: Int64
    /// The unit price for this quantity (volume tier applied).
    public var unitPrice: Money
    /// `unitPrice × quantity`, exact.
    public var lineTotal: Money

    /// Creates a priced line.
    public init(index: Int, item: CatalogItem, quantity: Int64, unitPrice: Money, lineTotal: Money) {
        self.index = index
        self.item = item
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.lineTotal = lineTotal
    }

    /// The request path of this line: `lines[2]`.
    public var path: String { "lines[\(index)]" }

    /// The shipping weight of the whole line in grams (saturating on absurd values).
    public var weightGrams: Int64 {
        let (product, overflow) = item.weightGrams.multipliedReportingOverflow(by: quantity)
        return overflow ? .max : product
    }
}
