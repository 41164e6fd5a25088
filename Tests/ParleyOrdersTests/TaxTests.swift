import ParleyOrders
import Testing

@Suite("Tax")
struct TaxTests {
    typealias F = Fixtures
    let table = TaxTable.sample

    func item(_ index: Int, _ amount: Money, _ category: TaxCategory = .general) -> TaxableItem {
        TaxableItem(path: "lines[\(index)]", category: category, amount: amount)
    }

    func us(_ zip: String, _ state: String) -> PostalAddress {
        PostalAddress(lines: ["1 Main St"], city: "City", region: state, postalCode: zip, country: "US")
    }

    func summary(_ quote: TaxQuote) -> [String] {
        quote.lines.map { "\($0.jurisdiction) \($0.rate) on \($0.taxableAmount.minorUnits) = \($0.tax.minorUnits)" }
    }

    @Test("Seattle: state and city lines, shipping follows the goods, each rounded half-up")
    func seattle() throws {
        let quote = try table.calculate(items: [item(0, F.usd(2_000))], shipping: F.usd(500), destination: F.seattle)
        // WA 6.5% of $25.00 = 162.5¢ → 163¢ (an exact half goes up); Seattle 3.85% = 96.25¢ → 96¢.
        #expect(summary(quote) == ["US-WA 6.5% on 2500 = 163", "US-WA-SEATTLE 3.85% on 2500 = 96"])
        #expect(quote.lines.map(\.shippingIncluded) == [F.usd(500), F.usd(500)])
        #expect(quote.total == F.usd(259))
    }

    @Test("California does not tax separately stated shipping; Los Angeles adds its district tax")
    func losAngeles() throws {
        let quote = try table.calculate(items: [item(0, F.usd(1_999))], shipping: F.usd(800), destination: us("90012", "CA"))
        // 7.25% of $19.99 = 144.9275¢ → 145¢; 2.5% = 49.975¢ → 50¢.
        #expect(summary(quote) == ["US-CA 7.25% on 1999 = 145", "US-CA-LA 2.5% on 1999 = 50"])
        #expect(quote.total == F.usd(195))
    }

    @Test("rounding is once per jurisdiction and rate, on the summed taxable amount")
    func roundingOncePerJurisdiction() throws {
        let sanDiego = us("92101", "CA")
        // Two lines of 10¢ at 7.25%: 1.45¢ → 1¢ (per line it would be 1¢ + 1¢).
        let twoDimes = try table.calculate(items: [item(0, F.usd(10)), item(1, F.usd(10))], shipping: F.usd(0), destination: sanDiego)
        #expect(twoDimes.total == F.usd(1))
        // $2.00 at 7.25% is exactly 14.5¢ → 15¢.
        #expect(try table.calculate(items: [item(0, F.usd(200))], shipping: F.usd(0), destination: sanDiego).total == F.usd(15))
    }

    @Test("New York City: a ZIP override replaces the state's rules with state, city and MCTD lines")
    func newYorkCity() throws {
        let quote = try table.calculate(items: [item(0, F.usd(10_000))], shipping: F.usd(1_000), destination: us("10001", "NY"))
        #expect(summary(quote) == ["US-NY 4% on 11000 = 440", "US-NY-NYC 4.5% on 11000 = 495", "US-NY-MCTD 0.375% on 11000 = 41"])
        #expect(quote.total == F.usd(976))
        let buffalo = try table.calculate(items: [item(0, F.usd(10_000))], shipping: F.usd(1_000), destination: us("14201", "NY"))
        #expect(summary(buffalo) == ["US-NY 4% on 11000 = 440"])
    }

    @Test("no tax in Oregon; exempt goods carry no tax and neither does their share of shipping")
    func noTax() throws {
        #expect(try table.calculate(items: [item(0, F.usd(5_000))], shipping: F.usd(500), destination: F.portland).lines.isEmpty)
        let exempt = try table.calculate(items: [item(0, F.usd(1_000), .exempt), item(1, F.usd(1_000))], shipping: F.usd(400), destination: us("73301", "TX"))
        // Texas 6.25% on the taxable line and its half of the shipping: $12.00 → 75¢.
        #expect(summary(exempt) == ["US-TX 6.25% on 1200 = 75"])
    }

    @Test("Ontario: one HST line of 13% on goods and shipping")
    func ontario() throws {
        let quote = try table.calculate(items: [item(0, F.cad(1_000))], shipping: F.cad(500), destination: F.toronto)
        #expect(summary(quote) == ["CA-ON-HST 13% on 1500 = 195"])
    }

    @Test("Quebec: GST 5% and QST 9.975%, each rounded half-up on its own")
    func quebec() throws {
        let montreal = PostalAddress(lines: ["1 Rue Ste-Catherine"], city: "Montréal", region: "QC", postalCode: "H2X 1Y4", country: "CA")
        let quote = try table.calculate(items: [item(0, F.cad(1_000))], shipping: F.cad(500), destination: montreal)
        // QST: 1500 × 9.975% = 149.625¢ → 150¢.
        #expect(summary(quote) == ["CA-GST 5% on 1500 = 75", "CA-QC-QST 9.975% on 1500 = 150"])
        #expect(quote.total == F.cad(225))
    }

    @Test("British Columbia: zero-rated goods owe 0% GST and no PST, with their share of shipping")
    func britishColumbia() throws {
        let vancouver = PostalAddress(lines: ["1 Granville St"], city: "Vancouver", region: "BC", postalCode: "V6B 1A1", country: "CA")
        let quote = try table.calculate(
            items: [item(0, F.cad(1_000), .zeroRated), item(1, F.cad(2_000))], shipping: F.cad(300), destination: vancouver
        )
        #expect(summary(quote) == ["CA-GST 5% on 2200 = 110", "CA-GST 0% on 1100 = 0", "CA-BC-PST 7% on 2200 = 154"])
        #expect(quote.total == F.cad(264))
    }

    @Test("UK VAT: standard, reduced and zero rates; delivery follows the goods it carries")
    func unitedKingdom() throws {
        let quote = try table.calculate(
            items: [item(0, F.gbp(1_000), .zeroRated), item(1, F.gbp(2_000)), item(2, F.gbp(999), .reduced)],
            shipping: F.gbp(399), destination: F.london
        )
        // £3.99 shipping split 100/199/100 by largest remainder; 20% of £21.99 = 439.8p → 440p;
        // 5% of £10.99 = 54.95p → 55p; 0% of £11.00.
        #expect(summary(quote) == ["GB-VAT 20% on 2199 = 440", "GB-VAT 5% on 1099 = 55", "GB-VAT 0% on 1100 = 0"])
        #expect(quote.total == F.gbp(495))
        #expect(quote.lines.reduce(0) { $0 + $1.shippingIncluded.minorUnits } == 399)
    }

    @Test("a tax rule that taxes shipping at its standard rate does so only when some goods are taxed")
    func shippingAtStandardRate() throws {
        let rule = TaxRule(jurisdiction: "XX", name: "Sales tax", standardRate: .percent(10), shipping: .taxedAtStandardRate)
        let table = TaxTable(countries: ["DE": [rule]])
        let berlin = PostalAddress(lines: ["1 Unter den Linden"], city: "Berlin", postalCode: "10117", country: "DE")
        let eur = { Money(minorUnits: $0, currency: .eur) }
        #expect(try table.calculate(items: [TaxableItem(path: "lines[0]", category: .general, amount: eur(1_000))], shipping: eur(500), destination: berlin).total == eur(150))
        #expect(try table.calculate(items: [TaxableItem(path: "lines[0]", category: .exempt, amount: eur(1_000))], shipping: eur(500), destination: berlin).total == eur(0))
    }

    @Test("amounts in another currency are refused, naming the line")
    func currencyMismatch() {
        let error = #expect(throws: OrdersError.self) {
            try table.calculate(items: [item(0, F.usd(100)), item(1, F.cad(100))], shipping: F.usd(0), destination: F.seattle)
        }
        #expect(error?.code == .currencyMismatch)
        #expect(error?.field == "lines[1]")
    }
}
