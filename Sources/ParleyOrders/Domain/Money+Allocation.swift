extension Money {
    /// Splits `self` into parts proportional to `weights`, so that the parts add
    /// up to exactly `self` (no minor unit is lost or invented).
    ///
    /// Rule (largest remainder): each part first gets `⌊|self| × wᵢ / Σw⌋` minor
    /// units; the units left over go one each to the parts with the largest
    /// remainders, ties to the earlier index. The sign of `self` is applied to every
    /// part. Used to spread an order-level discount over lines before tax, and a
    /// shipping charge over lines whose goods set its tax treatment.
    ///
    /// - Parameter weights: non-negative weights, usually line amounts in minor
    ///   units. If they are all zero the amount is split evenly.
    public func allocated(proportionalTo weights: [Int64]) throws(OrdersError) -> [Money] {
        guard !weights.isEmpty else { return [] }
        for (index, weight) in weights.enumerated() where weight < 0 {
            throw .invalid("weights[\(index)]", "a weight cannot be negative")
        }
        let effective = weights.allSatisfy { $0 == 0 } ? weights.map { _ in Int64(1) } : weights
        let totalWeight = effective.reduce(Int128(0)) { $0 + Int128($1) }
        let magnitude = Int128(minorUnits.magnitude)

        var parts = [Int128]()
        var remainders = [(index: Int, remainder: Int128)]()
        parts.reserveCapacity(effective.count)
        for (index, weight) in effective.enumerated() {
            let exact = magnitude * Int128(weight)
            parts.append(exact / totalWeight)
            remainders.append((index, exact % totalWeight))
        }
        var leftover = magnitude - parts.reduce(0, +)
        let order = remainders.sorted { $0.remainder != $1.remainder ? $0.remainder > $1.remainder : $0.index < $1.index }
        var cursor = 0
        while leftover > 0 {
            parts[order[cursor].index] += 1
            leftover -= 1
            cursor += 1
        }
        let negative = minorUnits < 0
        return parts.map { part in
            // Each part is at most |self|, so it fits; Int64.min's magnitude only as a whole.
            let signed = negative ? -part : part
            return Money(minorUnits: RoundingArithmetic.clamp(signed), currency: currency)
        }
    }
}
