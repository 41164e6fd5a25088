import ParleyWire
import Testing

@Suite("Currency digits")
struct CurrencyDigitsTests {
    @Test("minor-unit digits per ISO 4217: none, three, or two", arguments: [
        ("JPY", 0), ("KRW", 0), ("CLP", 0), ("ISK", 0),
        ("KWD", 3), ("BHD", 3), ("LYD", 3),
        ("USD", 2), ("EUR", 2), ("GBP", 2), ("CAD", 2),
    ])
    func digits(_ currency: String, _ expected: Int) {
        #expect(CurrencyDigits.minorUnitDigits(currency) == expected)
    }
}
