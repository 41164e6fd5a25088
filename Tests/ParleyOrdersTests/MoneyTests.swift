import ParleyOrders
import Testing

@Suite("Money")
struct MoneyTests {
    @Test("arithmetic adds, subtracts and multiplies exactly, and refuses mixed currencies")
    func arithmetic() throws {
        let a = Fixtures.usd(1_234), b = Fixtures.usd(766)
        #expect(try a.adding(b) == Fixtures.usd(2_000))
        #expect(try a.subtracting(b) == Fixtures.usd(468))
        #expect(try a.multiplied(by: 3) == Fixtures.usd(3_702))
        #expect(try Money.sum([a, b, a], currency: .usd) == Fixtures.usd(3_234))
        let error = #expect(throws: OrdersError.self) { try a.adding(Fixtures.cad(1)) }
        #expect(error?.code == .currencyMismatch)
        #expect(throws: OrdersError.self) { try a.isLess(than: Fixtures.gbp(1)) }
    }

    @Test("overflow is an error, never a trap")
    func overflow() {
        let big = Fixtures.usd(.max)
        #expect((#expect(throws: OrdersError.self) { try big.adding(Fixtures.usd(1)) })?.code == .overflow)
        #expect((#expect(throws: OrdersError.self) { try big.multiplied(by: 2) })?.code == .overflow)
        #expect((#expect(throws: OrdersError.self) { try Fixtures.usd(.min).negated() })?.code == .overflow)
    }

    @Test("formatting for people", arguments: [
        (Money(minorUnits: 1_234, currency: .usd), "$12.34"),
        (Money(minorUnits: 5, currency: .usd), "$0.05"),
        (Money(minorUnits: -300, currency: .usd), "-$3.00"),
        (Money(minorUnits: 123_456_789, currency: .cad), "CA$1,234,567.89"),
        (Money(minorUnits: 99, currency: .gbp), "£0.99"),
        (Money(minorUnits: 500, currency: .eur), "€5.00"),
        (Money(minorUnits: 500, currency: .jpy), "¥500"),
        (Money(minorUnits: 1_234, currency: CurrencyCode(rawValue: "chf")!), "12.34 CHF"),
        (Money(minorUnits: 1_234, currency: CurrencyCode(rawValue: "KWD")!), "1.234 KWD"),
        (Money(minorUnits: .min, currency: .usd), "-$92,233,720,368,547,758.08"),
    ])
    func formatting(money: Money, text: String) {
        #expect(money.formatted() == text)
        #expect("\(money)" == text)
    }

    @Test("currency codes are three letters")
    func currencyCodes() {
        #expect(CurrencyCode(rawValue: "usd") == .usd)
        for bad in ["US", "USDX", "U$D", ""] { #expect(CurrencyCode(rawValue: bad) == nil) }
        let error = #expect(throws: OrdersError.self) { try CurrencyCode.parse("dollars", field: "lines[0].expected_unit_price.currency") }
        #expect(error?.field == "lines[0].expected_unit_price.currency")
    }

    @Test("a rate of an amount rounds half-up (away from zero) to the minor unit", arguments: [
        (Int64(10), Rate(partsPerMillion: 72_500), Int64(1)), // 0.725¢ → 1¢
        (200, Rate(partsPerMillion: 72_500), 15), // 14.5¢ exactly → 15¢
        (10, Rate.percent(5), 1), // 0.5¢ → 1¢
        (9, Rate.percent(5), 0), // 0.45¢ → 0¢
        (-10, Rate.percent(5), -1), // away from zero
        (1_999, Rate(partsPerMillion: 88_750), 177), // 177.41 → 177
        (Int64.max, Rate.percent(100), Int64.max), // no overflow inside
    ])
    func rateRounding(minorUnits: Int64, rate: Rate, expected: Int64) {
        #expect(Fixtures.usd(minorUnits).applying(rate) == Fixtures.usd(expected))
    }

    @Test("rates print as percentages", arguments: [
        (Rate(partsPerMillion: 88_750), "8.875%"), (Rate.percent(20), "20%"), (Rate(partsPerMillion: 99_750), "9.975%"),
        (Rate.basisPoints(625), "6.25%"), (Rate.zero, "0%"),
    ])
    func rateDescription(rate: Rate, text: String) {
        #expect(rate.description == text)
    }

    @Test("allocation splits exactly by largest remainder, ties to the earlier part")
    func allocation() throws {
        #expect(try Fixtures.usd(100).allocated(proportionalTo: [1, 1, 1]) == [34, 33, 33].map(Fixtures.usd))
        #expect(try Fixtures.usd(300).allocated(proportionalTo: [1_000, 2_000]) == [100, 200].map(Fixtures.usd))
        #expect(try Fixtures.usd(-100).allocated(proportionalTo: [1, 2]) == [-33, -67].map(Fixtures.usd))
        #expect(try Fixtures.usd(5).allocated(proportionalTo: [0, 0]) == [3, 2].map(Fixtures.usd))
        let parts = try Fixtures.usd(1_001).allocated(proportionalTo: [333, 333, 334])
        #expect(parts.reduce(0) { $0 + $1.minorUnits } == 1_001)
        #expect((#expect(throws: OrdersError.self) { try Fixtures.usd(1).allocated(proportionalTo: [1, -1]) })?.field == "weights[1]")
    }
}

@Suite("Amendments")
struct AmendmentTests {
    @Test("alternatives rank by absolute price difference, the cheaper first on a tie, otherwise keeping their order")
    func ranking() {
        func alt(_ name: String, _ cents: Int64) -> Amendment.Alternative {
            Amendment.Alternative(description: name, replacements: [], priceDifference: Fixtures.usd(cents))
        }
        let ranked = Amendment.ranked([alt("a", 500), alt("b", -200), alt("c", 200), alt("d", 0), alt("e", 0)])
        #expect(ranked.map(\.description) == ["d", "e", "b", "c", "a"])
        #expect([Amendment(path: "x", code: .fraudFlagged, message: "", isBlocking: false)].hasBlocking == false)
    }
}
