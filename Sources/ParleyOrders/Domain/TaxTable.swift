/// How a tax treats the shipping charge.
public enum ShippingTaxTreatment: Sendable, Hashable {
    /// Shipping is not taxed (California, when separately stated).
    case notTaxed
    /// Shipping is taxed at the rule's standard rate whenever any goods on the order are taxed.
    case taxedAtStandardRate
    /// Shipping follows the goods: it is spread over the taxable lines in proportion
    /// to their amounts (largest remainder, see ``Money/allocated(proportionalTo:)``)
    /// and each share is taxed like its line (UK VAT, Canadian GST/HST, most US states that tax delivery).
    case followsGoods
}

/// One tax of one jurisdiction: a US state or local sales tax, Canada's GST or a
/// province's HST/PST/QST, the UK's VAT.
public struct TaxRule: Sendable, Hashable {
    /// The jurisdiction's code, unique in a rule list: `US-WA`, `US-NY-NYC`, `CA-GST`, `CA-QC-QST`, `GB-VAT`.
    public var jurisdiction: String
    /// The tax's name for people: `Washington sales tax`, `HST`, `VAT`.
    public var name: String
    /// The rate for every tax category not listed in ``categoryRates``.
    public var standardRate: Rate
    /// Rates for particular categories (UK reduced 5%, zero-rated 0%).
    public var categoryRates: [TaxCategory: Rate]
    /// Categories this tax does not apply to at all (no tax line for them).
    public var exemptCategories: Set<TaxCategory>
    /// Whether and how the shipping charge is taxed.
    public var shipping: ShippingTaxTreatment

    /// Creates a rule.
    public init(
        jurisdiction: String,
        name: String,
        standardRate: Rate,
        categoryRates: [TaxCategory: Rate] = [:],
        exemptCategories: Set<TaxCategory> = [.exempt],
        shipping: ShippingTaxTreatment
    ) {
        self.jurisdiction = jurisdiction
        self.name = name
        self.standardRate = standardRate
        self.categoryRates = categoryRates
        self.exemptCategories = exemptCategories
        self.shipping = shipping
    }

    /// The rate for `category`, or `nil` if the category is exempt from this tax.
    public func rate(for category: TaxCategory) -> Rate? {
        exemptCategories.contains(category) ? nil : categoryRates[category] ?? standardRate
    }
}

/// A merchant's tax tables: which taxes apply at a destination.
///
/// The most specific entry wins and replaces the others: a postal-code override
/// (longest matching prefix of the normalized code, such as a US ZIP with a
/// city tax), then the region (`US-WA`, `CA-ON`), then the country (`GB`).
/// A destination with no entry owes no tax (Oregon, or a country the merchant
/// does not collect for).
public struct TaxTable: Sendable, Hashable {
    /// Rules for a whole country, by ISO country code (`GB`).
    public var countries: [String: [TaxRule]]
    /// Rules for a state or province, by `COUNTRY-REGION` (`US-WA`, `CA-QC`).
    public var regions: [String: [TaxRule]]
    /// Rules for postal-code prefixes, by country then prefix (`US` → `981` → state and Seattle tax).
    public var postalOverrides: [String: [String: [TaxRule]]]

    /// Creates a table.
    public init(countries: [String: [TaxRule]] = [:], regions: [String: [TaxRule]] = [:], postalOverrides: [String: [String: [TaxRule]]] = [:]) {
        self.countries = countries
        self.regions = regions
        self.postalOverrides = postalOverrides
    }

    /// The taxes due at `destination`, whose postal code should be normalized
    /// (see ``AddressCheck``); the prefix match ignores spaces and hyphens.
    public func rules(for destination: PostalAddress) -> [TaxRule] {
        let country = destination.country.uppercased()
        if let overrides = postalOverrides[country], !overrides.isEmpty {
            let postal = destination.postalCode.uppercased().filter { $0 != " " && $0 != "-" }
            var length = postal.count
            while length > 0 {
                if let rules = overrides[String(postal.prefix(length))] { return rules }
                length -= 1
            }
        }
        if let rules = regions["\(country)-\(destination.region.uppercased())"] { return rules }
        return countries[country] ?? []
    }
}
