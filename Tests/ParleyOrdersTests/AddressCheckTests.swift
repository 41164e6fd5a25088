import ParleyOrders
import Testing

@Suite("Address check")
struct AddressCheckTests {
    typealias F = Fixtures

    @Test("postal codes are normalized to their country's format", arguments: [
        ("US", "98101", "98101"), ("US", "981011234", "98101-1234"), ("US", "98101-1234", "98101-1234"), ("US", "98101 1234", "98101-1234"),
        ("CA", "m5h2n2", "M5H 2N2"), ("CA", "K1A 0B1", "K1A 0B1"),
        ("GB", "sw1a2aa", "SW1A 2AA"), ("GB", "M1 1AE", "M1 1AE"), ("GB", "B33 8TH", "B33 8TH"), ("GB", "CR2 6XH", "CR2 6XH"),
        ("GB", "DN55 1PT", "DN55 1PT"), ("GB", "W1A 0AX", "W1A 0AX"), ("GB", "gir 0aa", "GIR 0AA"),
        ("DE", "10115", "10115"), ("NL", "1012 ab", "1012 AB"),
    ])
    func validFormats(country: String, input: String, canonical: String) {
        #expect(PostalCodeFormat.normalized(input, country: country) == canonical)
    }

    @Test("malformed postal codes are refused", arguments: [
        ("US", "9810"), ("US", "98101-12"), ("US", "9810A"), ("US", "9810-11234"),
        ("CA", "M5H 2N"), ("CA", "D5H 2N2"), ("CA", "W5H 2N2"), ("CA", "M5U 2N2"), ("CA", "55H 2N2"),
        ("GB", "SW1A"), ("GB", "SW1A 2CA"), ("GB", "1SW 2AA"), ("GB", "SW1A2AAA"),
        ("DE", "1"), ("FR", "75001!"),
    ])
    func invalidFormats(country: String, input: String) {
        #expect(PostalCodeFormat.normalized(input, country: country) == nil)
    }

    @Test("a valid address passes and comes back normalized")
    func validAddress() {
        var address = F.toronto
        address.postalCode = "m5h2n2"
        address.region = "on"
        let result = AddressCheck.check(address, path: "shipping_address", refusePOBoxes: true, currency: .cad)
        #expect(result.amendments.isEmpty)
        #expect(result.normalized.postalCode == "M5H 2N2")
        #expect(result.normalized.region == "ON")
        #expect(AddressCheck.check(F.london, path: "shipping_address", currency: .gbp).amendments.isEmpty)
    }

    @Test("a ZIP code of another state is ADDRESS_POSTAL_MISMATCH offering the right state", arguments: [
        ("98101", "OR", "WA"), ("10001", "NJ", "NY"), ("60601", "IN", "IL"), ("99501", "WA", "AK"), ("00901", "FL", "PR"), ("20500", "VA", "DC"),
    ])
    func zipMismatch(zip: String, given: String, expected: String) {
        let address = PostalAddress(lines: ["1 Main St"], city: "Somewhere", region: given, postalCode: zip, country: "US")
        let result = AddressCheck.check(address, path: "shipping_address", currency: .usd)
        let amendment = try! #require(result.amendments.first)
        #expect(amendment.code == .addressPostalMismatch)
        #expect(amendment.path == "shipping_address.postal_code")
        #expect(amendment.alternatives.first?.replacements == [.init(path: "shipping_address.region", value: .text(expected))])
    }

    @Test("a Canadian postal district of another province is a mismatch; X is both NT and NU")
    func canadianMismatch() {
        var address = F.toronto
        address.region = "QC"
        #expect(AddressCheck.check(address, path: "billing_address", currency: .cad).amendments.map(\.path) == ["billing_address.postal_code"])
        let iqaluit = PostalAddress(lines: ["1 Federal Rd"], city: "Iqaluit", region: "NU", postalCode: "X0A 0H0", country: "CA")
        #expect(AddressCheck.check(iqaluit, path: "shipping_address", currency: .cad).amendments.isEmpty)
    }

    @Test("the prefix tables cover every US state and DC and every Canadian province and territory")
    func tablesComplete() {
        let states = Set("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split(separator: " ").map(String.init))
        #expect(states.isSubset(of: PostalCodeFormat.knownRegions(country: "US")!))
        #expect(PostalCodeFormat.knownRegions(country: "CA") == Set(["NL", "NS", "PE", "NB", "QC", "ON", "MB", "SK", "AB", "BC", "NT", "NU", "YT"]))
        #expect(PostalCodeFormat.regions(forNormalized: "00012", country: "US") == nil) // unassigned prefix
    }

    @Test("missing and malformed fields are named by path")
    func requiredFields() {
        let address = PostalAddress(lines: [""], city: "", region: "ZZ", postalCode: "", country: "US")
        let paths = AddressCheck.check(address, path: "shipping_address", currency: .usd).amendments.map(\.path)
        #expect(paths == ["shipping_address.lines[0]", "shipping_address.city", "shipping_address.region", "shipping_address.postal_code"])
        let badZip = PostalAddress(lines: ["1 Main St"], city: "Seattle", region: "WA", postalCode: "ABCDE", country: "US")
        #expect(AddressCheck.check(badZip, path: "shipping_address", currency: .usd).amendments.map(\.code) == [.addressPostalFormat])
        let hongKong = PostalAddress(lines: ["1 Queen's Rd"], city: "Hong Kong", postalCode: "", country: "HK")
        #expect(AddressCheck.check(hongKong, path: "shipping_address", currency: .usd).amendments.isEmpty)
    }

    @Test("PO boxes are recognized", arguments: [
        "PO Box 123", "P.O. Box 45", "p o box 9", "POBox 77", "Post Office Box 12", "P.O.B. 3", "POB 88", "Box 14",
        "Postal Box 5", "Case postale 200", "C.P. 4501", "CP 12", "Locked Bag 3", "Unit 4, PO Box 19",
    ])
    func poBoxes(line: String) {
        #expect(POBoxDetector.isPOBox(line))
    }

    @Test("street addresses are not PO boxes", arguments: [
        "123 Boxwood Lane", "1 Post Office Road", "Box Hill Road", "44 Postal Way", "10 Pobox Street 5A", "CP Rail Yard", "Apt 3B",
    ])
    func notPOBoxes(line: String) {
        #expect(!POBoxDetector.isPOBox(line))
    }

    @Test("a PO box is refused only when the merchant asks")
    func poBoxRefusal() {
        var address = F.seattle
        address.lines = ["Attn: Receiving", "PO Box 1234"]
        #expect(AddressCheck.check(address, path: "shipping_address", currency: .usd).amendments.isEmpty)
        let refused = AddressCheck.check(address, path: "shipping_address", refusePOBoxes: true, currency: .usd).amendments
        #expect(refused.map(\.code) == [.addressPOBox])
        #expect(refused.map(\.path) == ["shipping_address.lines[1]"])
    }
}
