import ParleyWire

/// An ISO 4217 currency code: three upper-case ASCII letters.
public struct CurrencyCode: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The three letters, such as `USD`.
    public let rawValue: String

    /// Accepts exactly three ASCII letters (either case) and stores them upper-cased.
    public init?(rawValue: String) {
        let upper = rawValue.uppercased()
        guard upper.utf8.count == 3, upper.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else { return nil }
        self.rawValue = upper
    }

    /// Accepts a currency code or fails naming `field`.
    public static func parse(_ text: String, field: String) throws(OrdersError) -> CurrencyCode {
        guard let code = CurrencyCode(rawValue: text) else {
            throw .invalid(field, "'\(text)' is not an ISO 4217 currency code (three letters)")
        }
        return code
    }

    private init(known: String) { self.rawValue = known }

    /// US dollar.
    public static let usd = CurrencyCode(known: "USD")
    /// Canadian dollar.
    public static let cad = CurrencyCode(known: "CAD")
    /// Pound sterling.
    public static let gbp = CurrencyCode(known: "GBP")
    /// Euro.
    public static let eur = CurrencyCode(known: "EUR")
    /// Japanese yen (no minor unit).
    public static let jpy = CurrencyCode(known: "JPY")

    /// How many decimal digits the minor unit has (``CurrencyDigits``): 0
    /// for JPY and KRW, 3 for BHD, JOD, KWD, OMR and TND, 2 for most.
    public var minorUnitDigits: Int { CurrencyDigits.minorUnitDigits(rawValue) }

    public var description: String { rawValue }
    public static func < (lhs: CurrencyCode, rhs: CurrencyCode) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An amount of money: whole minor units (cents, pence) of one currency.
///
/// There is no floating point anywhere. Arithmetic refuses to mix currencies and
/// to overflow 64 bits: it throws ``OrdersError`` with code `CURRENCY_MISMATCH`
/// or `OVERFLOW` instead of trapping or guessing.
public struct Money: Sendable, Hashable, CustomStringConvertible {
    /// The amount in minor units of ``currency`` (1234 USD is $12.34).
    public var minorUnits: Int64
    /// The currency.
    public var currency: CurrencyCode

    /// Creates an amount of `minorUnits` of `currency`.
    public init(minorUnits: Int64, currency: CurrencyCode) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    /// Zero of `currency`.
    public static func zero(_ currency: CurrencyCode) -> Money { Money(minorUnits: 0, currency: currency) }

    /// True when the amount is zero.
    public var isZero: Bool { minorUnits == 0 }
    /// True when the amount is below zero.
    public var isNegative: Bool { minorUnits < 0 }

    /// The sum; throws on a currency mix or overflow.
    public func adding(_ other: Money) throws(OrdersError) -> Money {
        try requireSameCurrency(other)
        let (sum, overflow) = minorUnits.addingReportingOverflow(other.minorUnits)
        guard !overflow else { throw Money.overflowError() }
        return Money(minorUnits: sum, currency: currency)
    }

    /// The difference `self - other`; throws on a currency mix or overflow.
    public func subtracting(_ other: Money) throws(OrdersError) -> Money {
        try requireSameCurrency(other)
        let (difference, overflow) = minorUnits.subtractingReportingOverflow(other.minorUnits)
        guard !overflow else { throw Money.overflowError() }
        return Money(minorUnits: difference, currency: currency)
    }

    /// The amount times a whole factor (a unit price times a quantity); throws on overflow.
    public func multiplied(by factor: Int64) throws(OrdersError) -> Money {
        let (product, overflow) = minorUnits.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw Money.overflowError() }
        return Money(minorUnits: product, currency: currency)
    }

    /// The negated amount; throws for the one value that has no negation.
    public func negated() throws(OrdersError) -> Money {
        guard minorUnits != .min else { throw Money.overflowError() }
        return Money(minorUnits: -minorUnits, currency: currency)
    }

    /// `rate` of this amount, rounded half-up to the minor unit.
    ///
    /// Rounding rule: the exact product `minorUnits × partsPerMillion / 1 000 000`
    /// is rounded to the nearest minor unit, and an exact half goes away from zero
    /// (half-up on the magnitude): 7.25% of $0.10 is 0.725¢ → 1¢, 5% of 10¢ is
    /// 0.5¢ → 1¢, 5% of −10¢ is −1¢. It cannot overflow for rates up to 100%.
    public func applying(_ rate: Rate) -> Money {
        let exact = Int128(minorUnits) * Int128(rate.partsPerMillion)
        let rounded = RoundingArithmetic.divideHalfUp(exact, by: Int128(Rate.partsPerMillionDenominator))
        return Money(minorUnits: RoundingArithmetic.clamp(rounded), currency: currency)
    }

    /// The smaller of two amounts of the same currency.
    public func minimum(_ other: Money) throws(OrdersError) -> Money {
        try requireSameCurrency(other)
        return minorUnits <= other.minorUnits ? self : other
    }

    /// Compares two amounts of the same currency; throws on a currency mix.
    public func isLess(than other: Money) throws(OrdersError) -> Bool {
        try requireSameCurrency(other)
        return minorUnits < other.minorUnits
    }

    /// Adds up `amounts`, all in `currency`; the sum of nothing is zero.
    public static func sum(_ amounts: some Sequence<Money>, currency: CurrencyCode) throws(OrdersError) -> Money {
        var total = Money.zero(currency)
        for amount in amounts { total = try total.adding(amount) }
        return total
    }

    /// Throws `CURRENCY_MISMATCH` unless `other` is in this amount's currency.
    public func requireSameCurrency(_ other: Money, field: String? = nil) throws(OrdersError) {
        guard currency == other.currency else {
            throw OrdersError(
                code: .currencyMismatch,
                message: "cannot combine \(currency) with \(other.currency)",
                field: field
            )
        }
    }

    static func overflowError() -> OrdersError {
        OrdersError(code: .overflow, message: "amount does not fit in 64-bit minor units")
    }

    /// The amount for people, see ``formatted()``.
    public var description: String { formatted() }
}

/// A proportion, in parts per million: 1% is 10 000, 8.875% is 88 750.
///
/// Parts per million (not basis points) so that real tax rates such as Quebec's
/// 9.975% or New York City's 8.875% are exact.
public struct Rate: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// One million parts: 100%.
    public static let partsPerMillionDenominator: Int64 = 1_000_000

    /// The rate in parts per million.
    public let partsPerMillion: Int64

    /// A rate of `partsPerMillion` millionths.
    public init(partsPerMillion: Int64) { self.partsPerMillion = partsPerMillion }

    /// A rate in basis points (hundredths of a percent): 625 is 6.25%.
    public static func basisPoints(_ basisPoints: Int64) -> Rate { Rate(partsPerMillion: basisPoints * 100) }
    /// A whole percentage: 20 is 20%.
    public static func percent(_ percent: Int64) -> Rate { Rate(partsPerMillion: percent * 10_000) }
    /// 0%.
    public static let zero = Rate(partsPerMillion: 0)

    /// The rate as a percentage without trailing zeros: `8.875%`, `20%`.
    public var description: String {
        let whole = partsPerMillion / 10_000
        var fraction = abs(partsPerMillion % 10_000)
        guard fraction != 0 else { return "\(whole)%" }
        var digits = 4
        while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
        let padded = String(repeating: "0", count: digits - String(fraction).count) + String(fraction)
        let sign = partsPerMillion < 0 && whole == 0 ? "-" : ""
        return "\(sign)\(whole).\(padded)%"
    }

    public static func < (lhs: Rate, rhs: Rate) -> Bool { lhs.partsPerMillion < rhs.partsPerMillion }
}
