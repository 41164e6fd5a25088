/// Integer division with the rounding rule the Orders domain states everywhere:
/// to the nearest integer, exact halves away from zero ("half-up" on magnitudes).
enum RoundingArithmetic {
    /// `numerator / denominator` rounded to nearest, halves away from zero.
    /// `denominator` must be positive.
    static func divideHalfUp(_ numerator: Int128, by denominator: Int128) -> Int128 {
        precondition(denominator > 0, "denominator must be positive")
        let magnitude = numerator.magnitude
        let divisor = denominator.magnitude
        let quotient = magnitude / divisor
        let remainder = magnitude % divisor
        let rounded = remainder * 2 >= divisor ? quotient + 1 : quotient
        return numerator < 0 ? -Int128(rounded) : Int128(rounded)
    }

    /// Narrows to `Int64`, saturating (only reachable with rates over 100%).
    static func clamp(_ value: Int128) -> Int64 {
        if value > Int128(Int64.max) { return .max }
        if value < Int128(Int64.min) { return .min }
        return Int64(value)
    }
}
