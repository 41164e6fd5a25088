/// A postal address as given in an order acceptance request.
public struct PostalAddress: Sendable, Hashable {
    /// The recipient's name.
    public var name: String
    /// Street lines, first line first (`123 Main St`, `Apt 4`).
    public var lines: [String]
    /// City or town.
    public var city: String
    /// State, province or territory code (`WA`, `ON`); required for the US and Canada.
    public var region: String
    /// Postal code in any spacing or case; the address check normalizes it.
    public var postalCode: String
    /// ISO 3166-1 alpha-2 country code (`US`, `CA`, `GB`).
    public var country: String

    /// Creates an address.
    public init(name: String = "", lines: [String], city: String, region: String = "", postalCode: String, country: String) {
        self.name = name
        self.lines = lines
        self.city = city
        self.region = region
        self.postalCode = postalCode
        self.country = country
    }
}
