/// An amount the tax step sees: one order line, net of any discount allocated to it.
public struct TaxableItem: Sendable, Hashable {
    /// The request path of the line (`lines[0]`).
    public var path: String
    /// The item's tax category.
    public var category: TaxCategory
    /// The line's amount after discounts.
    public var amount: Money

    /// Creates a taxable item.
    public init(path: String, category: TaxCategory, amount: Money) {
        self.path = path
        self.category = category
        self.amount = amount
    }
}

/// One line of the tax computation: one jurisdiction's tax at one rate.
public struct TaxLine: Sendable, Hashable {
    /// The jurisdiction's code, as in ``TaxRule/jurisdiction``.
    public var jurisdiction: String
    /// The tax's name for people.
    public var name: String
    /// The rate applied.
    public var rate: Rate
    /// What the rate was applied to: the lines taxed at this rate plus their share of shipping.
    public var taxableAmount: Money
    /// The part of ``taxableAmount`` that is shipping.
    public var shippingIncluded: Money
    /// `taxableAmount × rate`, rounded half-up to the minor unit.
    public var tax: Money
}

/// The tax computation for an order.
public struct TaxQuote: Sendable, Hashable {
    /// One line per jurisdiction and rate, in rule order, higher rates first within a rule.
    public var lines: [TaxLine]
    /// The sum of the lines' taxes.
    public var total: Money
}

extension TaxTable {
    /// Computes the taxes of an order shipped to `destination`.
    ///
    /// Rounding rule: for each jurisdiction and rate, the taxable amounts of every
    /// line at that rate (plus their shares of shipping) are added first, and the
    /// tax on that sum is rounded once, to the nearest minor unit with halves
    /// going up (away from zero): 7.25% of $2.00 is 14.5¢ → 15¢, and two lines of
    /// $0.10 at 7.25% owe 1¢ (1.45¢), not 2¢. The total is the sum of the rounded lines.
    ///
    /// Shipping is taxed per rule, see ``ShippingTaxTreatment``. Every amount
    /// must be in `shipping`'s currency.
    public func calculate(items: [TaxableItem], shipping: Money, destination: PostalAddress) throws(OrdersError) -> TaxQuote {
        let currency = shipping.currency
        for item in items { try shipping.requireSameCurrency(item.amount, field: item.path) }
        let rules = rules(for: destination)

        // Shares of shipping per item, for rules where shipping follows the goods.
        let shares = try shipping.allocated(proportionalTo: items.map { max($0.amount.minorUnits, 0) })

        var lines = [TaxLine]()
        var total = Money.zero(currency)
        for rule in rules {
            var buckets = [Rate: (taxable: Money, shipping: Money)]()
            var anyTaxed = false
            for (index, item) in items.enumerated() {
                guard let rate = rule.rate(for: item.category) else { continue }
                anyTaxed = true
                var bucket = buckets[rate] ?? (.zero(currency), .zero(currency))
                bucket.taxable = try bucket.taxable.adding(item.amount)
                if rule.shipping == .followsGoods {
                    bucket.taxable = try bucket.taxable.adding(shares[index])
                    bucket.shipping = try bucket.shipping.adding(shares[index])
                }
                buckets[rate] = bucket
            }
            if rule.shipping == .taxedAtStandardRate, anyTaxed, !shipping.isZero {
                var bucket = buckets[rule.standardRate] ?? (.zero(currency), .zero(currency))
                bucket.taxable = try bucket.taxable.adding(shipping)
                bucket.shipping = try bucket.shipping.adding(shipping)
                buckets[rule.standardRate] = bucket
            }
            for rate in buckets.keys.sorted(by: >) {
                let bucket = buckets[rate]!
                guard !bucket.taxable.isZero else { continue }
                let tax = bucket.taxable.applying(rate)
                total = try total.adding(tax)
                lines.append(TaxLine(
                    jurisdiction: rule.jurisdiction,
                    name: rule.name,
                    rate: rate,
                    taxableAmount: bucket.taxable,
                    shippingIncluded: bucket.shipping,
                    tax: tax
                ))
            }
        }
        return TaxQuote(lines: lines, total: total)
    }
}
