extension Money {
    /// The amount for people: `$12.34`, `CA$1,234.50`, `£0.99`, `€5.00`, `¥500`,
    /// `-$3.00`, and for currencies without a symbol here `12.34 CHF`.
    ///
    /// Digits are grouped by three with commas; the number of decimals is the
    /// currency's ``CurrencyCode/minorUnitDigits``.
    public func formatted() -> String {
        let digits = currency.minorUnitDigits
        let magnitude = minorUnits.magnitude
        var divisor: UInt64 = 1
        for _ in 0..<digits { divisor *= 10 }
        let whole = magnitude / divisor
        let fraction = magnitude % divisor

        var number = Self.grouped(whole)
        if digits > 0 {
            let fractionText = String(fraction)
            number += "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
        }
        let sign = minorUnits < 0 ? "-" : ""
        if let symbol = Self.symbols[currency.rawValue] {
            return sign + symbol + number
        }
        return sign + number + " " + currency.rawValue
    }

    private static let symbols: [String: String] = [
        "USD": "$", "CAD": "CA$", "GBP": "£", "EUR": "€", "JPY": "¥",
    ]

    private static func grouped(_ value: UInt64) -> String {
        let plain = String(value)
        guard plain.count > 3 else { return plain }
        var out = ""
        for (index, character) in plain.enumerated() {
            if index > 0, (plain.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return out
    }
}
