extension CatalogItem {
    /// The unit price for `quantity` units in one line: the price of the tier with
    /// the largest minimum quantity not above `quantity`, or the base unit price.
    public func unitPrice(forQuantity quantity: Int64) -> Money {
        priceTiers.last { $0.minimumQuantity <= quantity }?.unitPrice ?? unitPrice
    }

    /// The line price: the tier unit price for `quantity` times `quantity`, exact
    /// (no rounding is involved). Throws `OVERFLOW` for absurd quantities.
    public func linePrice(quantity: Int64) throws(OrdersError) -> Money {
        try unitPrice(forQuantity: quantity).multiplied(by: quantity)
    }

    /// The first tier above `quantity` that the per-order limit still allows, if any.
    public func nextTier(above quantity: Int64) -> VolumePriceTier? {
        guard let tier = priceTiers.first(where: { $0.minimumQuantity > quantity }) else { return nil }
        if let limit = perOrderQuantityLimit, tier.minimumQuantity > limit { return nil }
        return tier
    }
}
