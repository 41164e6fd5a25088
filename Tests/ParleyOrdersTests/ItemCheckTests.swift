import ParleyOrders
import Testing

@Suite("Catalog, pricing and the item check")
struct ItemCheckTests {
    typealias F = Fixtures

    @Test("catalog validation names the offending field")
    func catalogValidation() {
        func error(_ items: [CatalogItem]) -> OrdersError? {
            #expect(throws: OrdersError.self) { try Catalog(merchant: "m", currency: .usd, items: items) }
        }
        var badTier = F.widget
        badTier.priceTiers = [VolumePriceTier(minimumQuantity: 10, unitPrice: F.usd(900)), VolumePriceTier(minimumQuantity: 5, unitPrice: F.usd(800))]
        #expect(error([F.manual, badTier])?.field == "items[1].price_tiers[1].min_quantity")
        var euro = F.manual
        euro.unitPrice = Money(minorUnits: 100, currency: .eur)
        #expect(error([euro])?.field == "items[0].unit_price")
        #expect(error([F.manual, F.manual])?.field == "items[1].sku")
        var noLimit = F.manual
        noLimit.perOrderQuantityLimit = 0
        #expect(error([noLimit])?.code == .invalidConfiguration)
    }

    @Test("the unit price is the tier for the quantity; the line price is exact", arguments: [
        (Int64(1), Int64(1_000), Int64(1_000)), (9, 1_000, 9_000), (10, 900, 9_000), (49, 900, 44_100), (50, 800, 40_000), (100, 800, 80_000),
    ])
    func tiers(quantity: Int64, unit: Int64, total: Int64) throws {
        #expect(F.widget.unitPrice(forQuantity: quantity) == F.usd(unit))
        #expect(try F.widget.linePrice(quantity: quantity) == F.usd(total))
    }

    @Test("a clean order prices every line and has no blocking amendment")
    func cleanOrder() {
        let result = ItemCheck.run(lines: [.init(sku: "BOOK-1", quantity: 2), .init(sku: "ACID-NITRIC", quantity: 1)], catalog: F.catalog)
        #expect(result.lines.map(\.lineTotal) == [F.usd(3_998), F.usd(4_500)])
        #expect(result.subtotal == F.usd(8_498))
        #expect(result.amendments.isEmpty)
    }

    @Test("an unknown SKU is ITEM_UNKNOWN at lines[i].sku with removal as the alternative")
    func unknownItem() {
        let result = ItemCheck.run(lines: [.init(sku: "BOOK-1", quantity: 1), .init(sku: "NOPE", quantity: 1)], catalog: F.catalog)
        let amendment = try! #require(result.amendments.first)
        #expect(amendment.path == "lines[1].sku")
        #expect(amendment.code == .itemUnknown)
        #expect(amendment.alternatives.first?.replacements == [.init(path: "lines[1]", value: .remove)])
        #expect(result.lines.count == 1)
    }

    @Test("bad quantities are QUANTITY_INVALID", arguments: [Int64(0), -3, .max])
    func invalidQuantity(quantity: Int64) {
        let result = ItemCheck.run(lines: [.init(sku: "WID-1", quantity: quantity)], catalog: F.catalog)
        #expect(result.amendments.map(\.code) == [.quantityInvalid])
        #expect(result.amendments.first?.path == "lines[0].quantity")
        #expect(result.lines.isEmpty)
    }

    @Test("a subtotal that would overflow refuses the line that overflows it")
    func subtotalOverflow() {
        let huge: Int64 = 3_000_000_000_000_000 // × $19.99 ≈ 6 × 10¹⁸ minor units per line
        let result = ItemCheck.run(lines: [.init(sku: "BOOK-1", quantity: huge), .init(sku: "BOOK-1", quantity: huge)], catalog: F.catalog)
        #expect(result.amendments.map(\.path) == ["lines[1].quantity"])
        #expect(result.amendments.map(\.code) == [.quantityInvalid])
        #expect(result.subtotal == F.usd(huge * 1_999))
    }

    @Test("over the per-order limit: a smaller quantity and removal, each with its price difference")
    func overLimit() {
        let result = ItemCheck.run(lines: [.init(sku: "ACID-NITRIC", quantity: 6)], catalog: F.catalog)
        let amendment = try! #require(result.amendments.first)
        #expect(amendment.code == .quantityOverLimit)
        #expect(amendment.path == "lines[0].quantity")
        #expect(amendment.isBlocking)
        #expect(amendment.alternatives.map(\.priceDifference) == [F.usd(-9_000), F.usd(-27_000)])
        #expect(amendment.alternatives.first?.replacements == [.init(path: "lines[0].quantity", value: .integer(4))])
    }

    @Test("the limit counts every line of the SKU; the line that crosses it is amended")
    func limitAcrossLines() {
        let result = ItemCheck.run(lines: [.init(sku: "ACID-NITRIC", quantity: 3), .init(sku: "ACID-NITRIC", quantity: 2)], catalog: F.catalog)
        #expect(result.amendments.map(\.path) == ["lines[1].quantity"])
        #expect(result.amendments.first?.alternatives.first?.replacements.first?.value == .integer(1))
    }

    @Test("a changed price is PRICE_CHANGED with the difference for the whole line")
    func priceChanged() {
        let result = ItemCheck.run(lines: [.init(sku: "BOOK-1", quantity: 3, expectedUnitPrice: F.usd(1_899))], catalog: F.catalog)
        let amendment = try! #require(result.amendments.first)
        #expect(amendment.code == .priceChanged)
        #expect(amendment.path == "lines[0].expected_unit_price")
        #expect(amendment.alternatives.first?.priceDifference == F.usd(300))
        let euro = ItemCheck.run(lines: [.init(sku: "BOOK-1", quantity: 1, expectedUnitPrice: Money(minorUnits: 1_999, currency: .eur))], catalog: F.catalog)
        #expect(euro.amendments.map(\.code) == [.currencyMismatch])
    }

    @Test("a reachable volume tier is a non-blocking notice offering the tier quantity")
    func volumeNotice() {
        let result = ItemCheck.run(lines: [.init(sku: "WID-1", quantity: 8)], catalog: F.catalog)
        let notice = try! #require(result.amendments.first)
        #expect(notice.code == .volumePriceAvailable)
        #expect(!notice.isBlocking)
        // 8 × $10.00 = $80.00 → 10 × $9.00 = $90.00: $10.00 more.
        #expect(notice.alternatives.first?.priceDifference == F.usd(1_000))
        #expect(notice.alternatives.first?.replacements.first?.value == .integer(10))
        #expect(!result.amendments.hasBlocking)
    }
}

@Suite("Special offers")
struct SpecialOfferTests {
    typealias F = Fixtures

    @Test("buy C too?: suggested when A and B are on the order and C is not")
    func suggestion() {
        let rule = ItemSuggestionRule(id: "manual-with-kit", whenAllOf: ["WID-1", "ACID-NITRIC"], suggestedSKU: "BOOK-1")
        let lines = F.priced([.init(sku: "WID-1", quantity: 1), .init(sku: "ACID-NITRIC", quantity: 1)])
        let notices = SpecialOffers.suggestions(for: lines, requestLineCount: 2, rules: [rule], catalog: F.catalog)
        let notice = try! #require(notices.first)
        #expect(notice.code == .itemSuggested)
        #expect(!notice.isBlocking)
        #expect(notice.alternatives.first?.replacements == [
            .init(path: "lines[2].sku", value: .text("BOOK-1")), .init(path: "lines[2].quantity", value: .integer(1)),
        ])
        #expect(notice.alternatives.first?.priceDifference == F.usd(1_999))
        let withManual = F.priced([.init(sku: "WID-1", quantity: 1), .init(sku: "ACID-NITRIC", quantity: 1), .init(sku: "BOOK-1", quantity: 1)])
        #expect(SpecialOffers.suggestions(for: withManual, requestLineCount: 3, rules: [rule], catalog: F.catalog).isEmpty)
        #expect(SpecialOffers.suggestions(for: Array(lines.prefix(1)), requestLineCount: 1, rules: [rule], catalog: F.catalog).isEmpty)
    }

    @Test("free items: one per qualifying multiple, capped, only while the offer is valid")
    func freeItems() {
        let offer = FreeItemOffer(
            id: "manual-free", qualifyingSKU: "WID-1", qualifyingQuantity: 5, freeSKU: "BOOK-1",
            maximumFreeQuantity: 2, validFromMilliseconds: F.wednesday, validUntilMilliseconds: F.saturday
        )
        let lines = F.priced([.init(sku: "WID-1", quantity: 17)])
        let granted = SpecialOffers.freeItems(for: lines, offers: [offer], catalog: F.catalog, now: F.friday)
        #expect(granted.grants.map(\.quantity) == [2]) // 17 / 5 = 3 grants, capped at 2
        #expect(granted.grants.first?.retailValue == F.usd(3_998))
        #expect(granted.amendments.map(\.code) == [.freeItemAdded])
        #expect(SpecialOffers.freeItems(for: lines, offers: [offer], catalog: F.catalog, now: F.saturday).grants.isEmpty)
        #expect(SpecialOffers.freeItems(for: F.priced([.init(sku: "WID-1", quantity: 4)]), offers: [offer], catalog: F.catalog, now: F.friday).grants.isEmpty)
    }
}
