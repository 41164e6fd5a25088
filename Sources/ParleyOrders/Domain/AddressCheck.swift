/// The outcome of checking one address.
public struct AddressCheckResult: Sendable, Hashable {
    /// The address with country and region upper-cased and the postal code in
    /// canonical form where it could be parsed.
    public var normalized: PostalAddress
    /// What is wrong with it.
    public var amendments: [Amendment]
}

/// The standard address check: required fields, postal code format by country,
/// postal code ↔ state/province consistency (US ZIP prefix, Canadian postal
/// district) and, when the merchant asks, refusal of post-office boxes.
public enum AddressCheck {
    /// Checks `address`, found at `path` in the request (`shipping_address`,
    /// `billing_address`). Amendments name fields under it, such as
    /// `shipping_address.postal_code`.
    ///
    /// - Parameters:
    ///   - refusePOBoxes: whether a PO box in any street line is an `ADDRESS_PO_BOX` amendment
    ///     (a merchant's rule for shipping addresses; billing addresses may be boxes).
    ///   - currency: the currency of the zero price differences in alternatives.
    public static func check(_ address: PostalAddress, path: String, refusePOBoxes: Bool = false, currency: CurrencyCode) -> AddressCheckResult {
        var normalized = address
        normalized.country = address.country.trimmingSpaces.uppercased()
        normalized.region = address.region.trimmingSpaces.uppercased()
        normalized.city = address.city.trimmingSpaces
        let country = normalized.country
        var amendments = [Amendment]()
        let zero = Money.zero(currency)

        func invalid(_ field: String, _ message: String) {
            amendments.append(Amendment(path: "\(path).\(field)", code: .addressInvalid, message: message))
        }

        if country.count != 2 || !country.allSatisfy(\.isASCIIUpperLetter) {
            invalid("country", "'\(address.country)' is not an ISO 3166 two-letter country code")
        }
        if address.lines.first.map({ $0.trimmingSpaces.isEmpty }) ?? true {
            invalid("lines[0]", "the first street line is required")
        }
        if normalized.city.isEmpty {
            invalid("city", "the city is required")
        }

        let knownRegions = PostalCodeFormat.knownRegions(country: country)
        if let knownRegions {
            if normalized.region.isEmpty {
                invalid("region", "a state or province is required in \(country)")
            } else if !knownRegions.contains(normalized.region) {
                invalid("region", "'\(address.region)' is not a state or province of \(country)")
            }
        }

        let postal = address.postalCode.trimmingSpaces
        if postal.isEmpty {
            if !PostalCodeFormat.countriesWithoutPostalCodes.contains(country) {
                invalid("postal_code", "a postal code is required in \(country)")
            }
        } else if let canonical = PostalCodeFormat.normalized(postal, country: country) {
            normalized.postalCode = canonical
            let regions = PostalCodeFormat.regions(forNormalized: canonical, country: country)
            if knownRegions != nil, regions == nil {
                amendments.append(Amendment(
                    path: "\(path).postal_code",
                    code: .addressPostalFormat,
                    message: "\(canonical) is not an assigned postal code in \(country)"
                ))
            } else if let regions, let known = knownRegions, known.contains(normalized.region), !regions.contains(normalized.region) {
                let choices = regions.sorted()
                amendments.append(Amendment(
                    path: "\(path).postal_code",
                    code: .addressPostalMismatch,
                    message: "postal code \(canonical) is in \(choices.joined(separator: " or ")), not \(normalized.region)",
                    alternatives: choices.map { region in
                        Amendment.Alternative(
                            description: "the state or province is \(region)",
                            replacements: [.init(path: "\(path).region", value: .text(region))],
                            priceDifference: zero
                        )
                    }
                ))
            }
        } else {
            amendments.append(Amendment(
                path: "\(path).postal_code",
                code: .addressPostalFormat,
                message: "'\(postal)' is not a postal code of \(country): expected \(expectedFormat(country))"
            ))
        }

        if refusePOBoxes {
            for (index, line) in address.lines.enumerated() where POBoxDetector.isPOBox(line) {
                amendments.append(Amendment(
                    path: "\(path).lines[\(index)]",
                    code: .addressPOBox,
                    message: "this merchant does not deliver to post-office boxes; give a street address"
                ))
            }
        }
        return AddressCheckResult(normalized: normalized, amendments: amendments)
    }

    private static func expectedFormat(_ country: String) -> String {
        switch country {
        case "US": "12345 or 12345-6789"
        case "CA": "A1A 1A1"
        case "GB": "a UK postcode such as SW1A 1AA"
        default: "2 to 10 letters or digits"
        }
    }
}
