extension TaxTable {
    /// A ready-made table for demos and tests, with 2025 rates: every US state's
    /// base sales tax (none for AK, DE, MT, NH, OR), a few city overrides by ZIP
    /// prefix (New York City, Chicago, Los Angeles, Seattle), Canada's GST, HST
    /// and provincial taxes, and UK VAT.
    ///
    /// Shipping taxability follows each US state's usual rule for separately
    /// stated delivery charges, simplified. A merchant configures its own table;
    /// this one is sample data, not tax advice.
    public static let sample: TaxTable = {
        var regions = [String: [TaxRule]]()
        for (state, name, partsPerMillion, taxesShipping) in usStates {
            regions["US-\(state)"] = [usRule(state, name, partsPerMillion, taxesShipping)]
        }
        let gst = TaxRule(jurisdiction: "CA-GST", name: "GST", standardRate: .percent(5), categoryRates: [.zeroRated: .zero], shipping: .followsGoods)
        func hst(_ province: String, _ rate: Rate) -> [TaxRule] {
            [TaxRule(jurisdiction: "CA-\(province)-HST", name: "HST", standardRate: rate, categoryRates: [.zeroRated: .zero], shipping: .followsGoods)]
        }
        func provincial(_ province: String, _ name: String, _ rate: Rate) -> [TaxRule] {
            [gst, TaxRule(jurisdiction: "CA-\(province)-\(name)", name: name, standardRate: rate, exemptCategories: [.exempt, .zeroRated], shipping: .followsGoods)]
        }
        for territory in ["AB", "NT", "NU", "YT"] { regions["CA-\(territory)"] = [gst] }
        regions["CA-ON"] = hst("ON", .percent(13))
        regions["CA-NS"] = hst("NS", .percent(14))
        for province in ["NB", "NL", "PE"] { regions["CA-\(province)"] = hst(province, .percent(15)) }
        regions["CA-BC"] = provincial("BC", "PST", .percent(7))
        regions["CA-MB"] = provincial("MB", "RST", .percent(7))
        regions["CA-SK"] = provincial("SK", "PST", .percent(6))
        regions["CA-QC"] = provincial("QC", "QST", Rate(partsPerMillion: 99_750))

        let vat = TaxRule(
            jurisdiction: "GB-VAT", name: "VAT", standardRate: .percent(20),
            categoryRates: [.reduced: .percent(5), .zeroRated: .zero], shipping: .followsGoods
        )

        func city(_ state: String, _ code: String, _ name: String, _ partsPerMillion: Int64) -> [TaxRule] {
            let base = regions["US-\(state)"] ?? []
            let shipping = base.first?.shipping ?? .notTaxed
            return base + [TaxRule(jurisdiction: "US-\(state)-\(code)", name: name, standardRate: Rate(partsPerMillion: partsPerMillion), shipping: shipping)]
        }
        var zip = [String: [TaxRule]]()
        let newYork = city("NY", "NYC", "New York City sales tax", 45_000)
            + [TaxRule(jurisdiction: "US-NY-MCTD", name: "Metropolitan commuter transportation district surcharge", standardRate: Rate(partsPerMillion: 3_750), shipping: .followsGoods)]
        for prefix in ["100", "101", "102", "103", "104", "111", "112", "113", "114", "116"] { zip[prefix] = newYork }
        zip["606"] = city("IL", "CHICAGO", "Chicago, Cook County and RTA taxes", 40_000)
        zip["900"] = city("CA", "LA", "Los Angeles County district taxes", 25_000)
        zip["981"] = city("WA", "SEATTLE", "Seattle and King County taxes", 38_500)

        return TaxTable(countries: ["GB": [vat]], regions: regions, postalOverrides: ["US": zip])
    }()

    private static func usRule(_ state: String, _ name: String, _ partsPerMillion: Int64, _ taxesShipping: Bool) -> TaxRule {
        TaxRule(
            jurisdiction: "US-\(state)",
            name: "\(name) sales tax",
            standardRate: Rate(partsPerMillion: partsPerMillion),
            shipping: taxesShipping ? .followsGoods : .notTaxed
        )
    }

    /// State, name, base rate in parts per million, whether separately stated delivery is taxed.
    private static let usStates: [(String, String, Int64, Bool)] = [
        ("AL", "Alabama", 40_000, false), ("AZ", "Arizona", 56_000, false), ("AR", "Arkansas", 65_000, true),
        ("CA", "California", 72_500, false), ("CO", "Colorado", 29_000, false), ("CT", "Connecticut", 63_500, true),
        ("DC", "District of Columbia", 60_000, true), ("FL", "Florida", 60_000, false), ("GA", "Georgia", 40_000, true),
        ("HI", "Hawaii", 40_000, true), ("ID", "Idaho", 60_000, false), ("IL", "Illinois", 62_500, false),
        ("IN", "Indiana", 70_000, true), ("IA", "Iowa", 60_000, false), ("KS", "Kansas", 65_000, true),
        ("KY", "Kentucky", 60_000, true), ("LA", "Louisiana", 50_000, false), ("ME", "Maine", 55_000, false),
        ("MD", "Maryland", 60_000, false), ("MA", "Massachusetts", 62_500, false), ("MI", "Michigan", 60_000, true),
        ("MN", "Minnesota", 68_750, true), ("MS", "Mississippi", 70_000, true), ("MO", "Missouri", 42_250, false),
        ("NE", "Nebraska", 55_000, true), ("NV", "Nevada", 68_500, false), ("NJ", "New Jersey", 66_250, true),
        ("NM", "New Mexico", 48_750, true), ("NY", "New York", 40_000, true), ("NC", "North Carolina", 47_500, true),
        ("ND", "North Dakota", 50_000, true), ("OH", "Ohio", 57_500, true), ("OK", "Oklahoma", 45_000, false),
        ("PA", "Pennsylvania", 60_000, true), ("RI", "Rhode Island", 70_000, true), ("SC", "South Carolina", 60_000, true),
        ("SD", "South Dakota", 42_000, true), ("TN", "Tennessee", 70_000, true), ("TX", "Texas", 62_500, true),
        ("UT", "Utah", 61_000, false), ("VT", "Vermont", 60_000, true), ("VA", "Virginia", 53_000, false),
        ("WA", "Washington", 65_000, true), ("WV", "West Virginia", 60_000, true), ("WI", "Wisconsin", 50_000, true),
        ("WY", "Wyoming", 40_000, false),
    ]
}
