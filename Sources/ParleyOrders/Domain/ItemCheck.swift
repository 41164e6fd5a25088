/// The outcome of the item check.
public struct ItemCheckResult: Sendable, Hashable {
    /// Every line whose SKU is known and whose quantity is a positive number, priced
    /// as requested (quantity over a limit included: the amendment says what is acceptable).
    public var lines: [PricedLine]
    /// The sum of ``lines``' totals.
    public var subtotal: Money
    /// What is wrong with the lines, and notices such as a reachable volume price.
    public var amendments: [Amendment]
}

/// The standard item check: look each item up, price it (volume tiers applied),
/// enforce the per-order quantity limit and the price the client expects.
public enum ItemCheck {
    /// Checks and prices `lines` against `catalog`.
    ///
    /// Prices are exact: unit price (the tier for the line's quantity) × quantity;
    /// nothing is rounded. A quantity below 1, or one whose price (or the order's
    /// subtotal) would not fit in 64-bit minor units, is `QUANTITY_INVALID`. Price differences in the alternatives are relative to
    /// the request as sent. The per-order limit counts every line of the SKU
    /// together; the amendment sits on the line that goes over it.
    public static func run(lines: [OrderLineRequest], catalog: Catalog) -> ItemCheckResult {
        let currency = catalog.currency
        var priced = [PricedLine]()
        var amendments = [Amendment]()
        var unitsSoFar = [String: Int64]()
        var subtotal: Int64 = 0

        for (index, line) in lines.enumerated() {
            let path = "lines[\(index)]"
            guard let item = catalog.item(sku: line.sku) else {
                amendments.append(Amendment(
                    path: "\(path).sku",
                    code: .itemUnknown,
                    message: "'\(line.sku)' is not in \(catalog.merchant)'s catalog",
                    alternatives: [removeLine(path, saving: .zero(currency))]
                ))
                continue
            }
            guard line.quantity >= 1, let lineTotal = try? item.linePrice(quantity: line.quantity),
                  case (let newSubtotal, false) = subtotal.addingReportingOverflow(lineTotal.minorUnits) else {
                amendments.append(Amendment(
                    path: "\(path).quantity",
                    code: .quantityInvalid,
                    message: "quantity \(line.quantity) of \(item.sku) is not a usable number of units",
                    alternatives: [Amendment.Alternative(
                        description: "order 1 unit",
                        replacements: [.init(path: "\(path).quantity", value: .integer(1))],
                        priceDifference: item.unitPrice
                    )]
                ))
                continue
            }
            subtotal = newSubtotal
            let unitPrice = item.unitPrice(forQuantity: line.quantity)
            priced.append(PricedLine(index: index, item: item, quantity: line.quantity, unitPrice: unitPrice, lineTotal: lineTotal))

            let before = unitsSoFar[item.sku, default: 0]
            let (after, overflow) = before.addingReportingOverflow(line.quantity)
            unitsSoFar[item.sku] = overflow ? .max : after
            if let limit = item.perOrderQuantityLimit, overflow || after > limit {
                amendments.append(overLimit(item: item, path: path, quantity: line.quantity, otherLines: before, limit: limit, lineTotal: lineTotal))
            } else if let tier = item.nextTier(above: line.quantity), let tierTotal = try? item.linePrice(quantity: tier.minimumQuantity) {
                let extra = tier.minimumQuantity - line.quantity
                amendments.append(Amendment(
                    path: "\(path).quantity",
                    code: .volumePriceAvailable,
                    message: "\(extra) more of \(item.sku) would lower the unit price from \(unitPrice) to \(tier.unitPrice)",
                    isBlocking: false,
                    alternatives: [Amendment.Alternative(
                        description: "buy \(tier.minimumQuantity) at \(tier.unitPrice) each",
                        replacements: [.init(path: "\(path).quantity", value: .integer(tier.minimumQuantity))],
                        priceDifference: difference(tierTotal, lineTotal)
                    )]
                ))
            }

            if let expected = line.expectedUnitPrice {
                if expected.currency != currency {
                    amendments.append(Amendment(
                        path: "\(path).expected_unit_price",
                        code: .currencyMismatch,
                        message: "\(catalog.merchant) prices in \(currency), not \(expected.currency)",
                        alternatives: [acceptPrice(path, unitPrice, quantity: line.quantity, from: .zero(currency))]
                    ))
                } else if expected != unitPrice {
                    amendments.append(Amendment(
                        path: "\(path).expected_unit_price",
                        code: .priceChanged,
                        message: "\(item.sku) costs \(unitPrice) a unit for \(line.quantity), not \(expected)",
                        alternatives: [acceptPrice(path, unitPrice, quantity: line.quantity, from: expected)]
                    ))
                }
            }
        }

        return ItemCheckResult(lines: priced, subtotal: Money(minorUnits: subtotal, currency: currency), amendments: amendments)
    }

    private static func overLimit(item: CatalogItem, path: String, quantity: Int64, otherLines: Int64, limit: Int64, lineTotal: Money) -> Amendment {
        var alternatives = [Amendment.Alternative]()
        let allowed = limit - otherLines
        if allowed >= 1, let allowedTotal = try? item.linePrice(quantity: allowed) {
            alternatives.append(Amendment.Alternative(
                description: "order \(allowed) of \(item.sku), the most allowed",
                replacements: [.init(path: "\(path).quantity", value: .integer(allowed))],
                priceDifference: difference(allowedTotal, lineTotal)
            ))
        }
        alternatives.append(removeLine(path, saving: lineTotal))
        let others = otherLines > 0 ? " (\(otherLines) already on earlier lines)" : ""
        return Amendment(
            path: "\(path).quantity",
            code: .quantityOverLimit,
            message: "at most \(limit) of \(item.sku) per order\(others); \(quantity) asked",
            alternatives: Amendment.ranked(alternatives)
        )
    }

    private static func removeLine(_ path: String, saving lineTotal: Money) -> Amendment.Alternative {
        Amendment.Alternative(
            description: "remove the line",
            replacements: [.init(path: path, value: .remove)],
            priceDifference: Money(minorUnits: -lineTotal.minorUnits, currency: lineTotal.currency)
        )
    }

    private static func acceptPrice(_ path: String, _ unitPrice: Money, quantity: Int64, from expected: Money) -> Amendment.Alternative {
        let perUnit = unitPrice.minorUnits &- expected.minorUnits
        let (total, overflow) = perUnit.multipliedReportingOverflow(by: quantity)
        return Amendment.Alternative(
            description: "accept \(unitPrice) a unit",
            replacements: [.init(path: "\(path).expected_unit_price", value: .integer(unitPrice.minorUnits))],
            priceDifference: Money(minorUnits: overflow ? .max : total, currency: unitPrice.currency)
        )
    }

    static func difference(_ new: Money, _ old: Money) -> Money {
        (try? new.subtracting(old)) ?? Money(minorUnits: .max, currency: new.currency)
    }
}
