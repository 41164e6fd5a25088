/// Postal code formats by country, and the consistency of a postal code with a
/// state or province.
public enum PostalCodeFormat {
    /// Countries that have no postal codes; an empty one is fine there.
    public static let countriesWithoutPostalCodes: Set<String> = [
        "AE", "AG", "AO", "AW", "BS", "BZ", "BJ", "BW", "CW", "FJ", "GH", "HK", "JM", "KI", "KN", "QA", "SC", "SR", "TV", "UG", "ZW",
    ]

    /// The postal code in its country's canonical form, or `nil` if it does not
    /// have the country's format.
    ///
    /// - US: `12345` or ZIP+4 `12345-6789` (also accepted as `123456789` or `12345 6789`).
    /// - CA: `A1A 1A1` with the letters Canada Post uses (no D F I O Q U; no W or Z first).
    /// - GB: outward code `A9`, `A99`, `AA9`, `AA99`, `A9A` or `AA9A`, a space, and the
    ///   inward code `9AA` (no C I K M O V in it); also `GIR 0AA`.
    /// - Elsewhere: 2 to 10 letters, digits, spaces or hyphens, upper-cased.
    public static func normalized(_ postalCode: String, country: String) -> String? {
        let upper = postalCode.uppercased()
        let compact = upper.filter { $0 != " " }
        switch country.uppercased() {
        case "US":
            let digits = Array(compact.filter { $0 != "-" })
            guard digits.allSatisfy(\.isASCIIDigit) else { return nil }
            let dashes = compact.filter { $0 == "-" }.count
            if digits.count == 5, dashes == 0 { return String(digits) }
            guard digits.count == 9, dashes == 0 || (dashes == 1 && compact.firstIndex(of: "-") == compact.index(compact.startIndex, offsetBy: 5)) else { return nil }
            return String(digits[0..<5]) + "-" + String(digits[5...])
        case "CA":
            let c = Array(compact)
            guard c.count == 6 else { return nil }
            let forbidden: Set<Character> = ["D", "F", "I", "O", "Q", "U"]
            for position in [0, 2, 4] where !(c[position].isASCIIUpperLetter && !forbidden.contains(c[position])) { return nil }
            guard c[0] != "W", c[0] != "Z" else { return nil }
            for position in [1, 3, 5] where !c[position].isASCIIDigit { return nil }
            return String(c[0..<3]) + " " + String(c[3...])
        case "GB":
            if compact == "GIR0AA" { return "GIR 0AA" }
            let c = Array(compact)
            guard (5...7).contains(c.count) else { return nil }
            let inward = Array(c.suffix(3)), outward = Array(c.prefix(c.count - 3))
            let inwardForbidden: Set<Character> = ["C", "I", "K", "M", "O", "V"]
            guard inward[0].isASCIIDigit,
                  inward[1...].allSatisfy({ $0.isASCIIUpperLetter && !inwardForbidden.contains($0) }),
                  isBritishOutwardCode(outward) else { return nil }
            return String(outward) + " " + String(inward)
        default:
            let trimmed = upper.trimmingSpaces
            guard (2...10).contains(trimmed.count),
                  trimmed.allSatisfy({ $0.isASCIIDigit || $0.isASCIIUpperLetter || $0 == " " || $0 == "-" }),
                  trimmed.contains(where: { $0.isASCIIDigit || $0.isASCIIUpperLetter }) else { return nil }
            return trimmed
        }
    }

    /// A1, A11, AA1, AA11, A1A, AA1A.
    private static func isBritishOutwardCode(_ c: [Character]) -> Bool {
        let pattern = c.map { $0.isASCIIDigit ? "9" : ($0.isASCIIUpperLetter ? "A" : "?") }.joined()
        return ["A9", "A99", "AA9", "AA99", "A9A", "AA9A"].contains(pattern)
    }

    /// The states or provinces a normalized postal code belongs to, from the
    /// built-in tables (US: 3-digit ZIP prefix; CA: first letter), or `nil` when
    /// the country has no table here or the prefix is unassigned.
    public static func regions(forNormalized postalCode: String, country: String) -> Set<String>? {
        switch country.uppercased() {
        case "US":
            guard let prefix = Int(postalCode.prefix(3)) else { return nil }
            return USZipPrefixTable.regions(forPrefix: prefix)
        case "CA":
            guard let first = postalCode.first else { return nil }
            return CanadianPostalDistrictTable.districts[first]
        default:
            return nil
        }
    }

    /// The region codes the check knows for `country`, or `nil` where regions are not checked.
    public static func knownRegions(country: String) -> Set<String>? {
        switch country.uppercased() {
        case "US": USZipPrefixTable.knownRegions
        case "CA": CanadianPostalDistrictTable.knownRegions
        default: nil
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIIUpperLetter: Bool { isASCII && isUppercase }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    var trimmingSpaces: String {
        // Most values have nothing to trim: when both ends are printable
        // ASCII, skip the grapheme-by-grapheme walk (measured at 3% of a
        // Negotiate's CPU time, called for every address field and key).
        if let first = utf8.first, let last = utf8.last, (0x21..<0x7F).contains(first), (0x21..<0x7F).contains(last) {
            return self
        }
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
