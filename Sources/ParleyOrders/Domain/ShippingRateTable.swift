/// A shipping method: a shipper's service, such as `acme/ground`.
public struct ShippingMethod: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The carrier: `acme`.
    public var shipper: String
    /// The carrier's service: `ground`, `overnight-air`.
    public var service: String

    /// Creates a method.
    public init(shipper: String, service: String) {
        self.shipper = shipper
        self.service = service
    }

    /// Parses the id form `shipper/service`.
    public init?(id: String) {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.init(shipper: String(parts[0]), service: String(parts[1]))
    }

    /// The id form `shipper/service`, used in requests and replacements.
    public var id: String { "\(shipper)/\(service)" }
    public var description: String { id }
    public static func < (lhs: ShippingMethod, rhs: ShippingMethod) -> Bool { lhs.id < rhs.id }
}

/// How a service moves parcels; hazardous materials are restricted by air.
public enum TransportMode: String, Sendable, Hashable {
    /// Trucks and rail.
    case ground
    /// Aircraft for any part of the journey.
    case air
}

/// A destination selector: a whole country, or one state or province of it.
public struct RegionSelector: Sendable, Hashable, CustomStringConvertible {
    /// ISO country code.
    public var country: String
    /// State or province code, or `nil` for the whole country.
    public var region: String?

    /// Selects all of `country`, or only `region` of it.
    public init(country: String, region: String? = nil) {
        self.country = country.uppercased()
        self.region = region?.uppercased()
    }

    /// Parses `US` or `US-AK`.
    public init(_ code: String) {
        let parts = code.split(separator: "-", maxSplits: 1).map(String.init)
        self.init(country: parts.first ?? "", region: parts.count > 1 ? parts[1] : nil)
    }

    /// True when `destination` is in the selected area.
    public func matches(_ destination: PostalAddress) -> Bool {
        guard destination.country.uppercased() == country else { return false }
        guard let region else { return true }
        return destination.region.uppercased() == region
    }

    /// 2 for a region, 1 for a whole country: the more specific selector wins.
    var specificity: Int { region == nil ? 1 : 2 }

    public var description: String { region.map { "\(country)-\($0)" } ?? country }
}

/// A set of destinations that share prices.
public struct ShippingZone: Sendable, Hashable {
    /// The zone's name, referenced by rates: `domestic`, `remote`, `canada`.
    public var name: String
    /// The areas in the zone.
    public var regions: [RegionSelector]

    /// Creates a zone.
    public init(name: String, regions: [RegionSelector]) {
        self.name = name
        self.regions = regions
    }
}

/// A weight bracket: a shipment up to ``maximumGrams`` (inclusive) costs ``price``.
public struct WeightBracket: Sendable, Hashable {
    /// The heaviest shipment in the bracket, in grams.
    public var maximumGrams: Int64
    /// The price of a shipment in the bracket.
    public var price: Money

    /// Creates a bracket.
    public init(maximumGrams: Int64, price: Money) {
        self.maximumGrams = maximumGrams
        self.price = price
    }
}

/// A service the merchant offers, and how it travels.
public struct ShippingService: Sendable, Hashable {
    /// The method.
    public var method: ShippingMethod
    /// Ground or air.
    public var mode: TransportMode
    /// The name shown to buyers: `Acme Overnight Air`.
    public var displayName: String

    /// Creates a service.
    public init(method: ShippingMethod, mode: TransportMode, displayName: String) {
        self.method = method
        self.mode = mode
        self.displayName = displayName
    }
}

/// The prices of one method in one zone, by weight.
public struct ShippingRate: Sendable, Hashable {
    /// The method.
    public var method: ShippingMethod
    /// The zone's name.
    public var zone: String
    /// Brackets by ascending ``WeightBracket/maximumGrams``; heavier than the last is refused.
    public var brackets: [WeightBracket]

    /// Creates a rate.
    public init(method: ShippingMethod, zone: String, brackets: [WeightBracket]) {
        self.method = method
        self.zone = zone
        self.brackets = brackets
    }
}

/// A merchant's shipping rate table: services, zones, and weight-bracket prices.
public struct ShippingRateTable: Sendable, Hashable {
    /// The currency of every price.
    public var currency: CurrencyCode
    /// The services offered, in the merchant's order.
    public var services: [ShippingService]
    /// The zones; a destination belongs to the zone with its most specific match, the first one on a tie.
    public var zones: [ShippingZone]
    /// The prices.
    public var rates: [ShippingRate]

    /// Creates a table; see ``validate()``.
    public init(currency: CurrencyCode, services: [ShippingService], zones: [ShippingZone], rates: [ShippingRate]) {
        self.currency = currency
        self.services = services
        self.zones = zones
        self.rates = rates
    }

    /// Checks the table's consistency; errors name the field, such as `rates[1].brackets[0].price`.
    public func validate() throws(OrdersError) {
        let methods = Set(services.map(\.method))
        let zoneNames = Set(zones.map(\.name))
        for (index, rate) in rates.enumerated() {
            let path = "rates[\(index)]"
            guard methods.contains(rate.method) else { throw .configuration("\(path).method", "no service \(rate.method)") }
            guard zoneNames.contains(rate.zone) else { throw .configuration("\(path).zone", "no zone '\(rate.zone)'") }
            var previous: Int64 = 0
            for (bracketIndex, bracket) in rate.brackets.enumerated() {
                let bracketPath = "\(path).brackets[\(bracketIndex)]"
                guard bracket.price.currency == currency else { throw .configuration("\(bracketPath).price", "price in \(bracket.price.currency), table is in \(currency)") }
                guard !bracket.price.isNegative else { throw .configuration("\(bracketPath).price", "a price cannot be negative") }
                guard bracket.maximumGrams > previous || (bracketIndex == 0 && bracket.maximumGrams >= 0) else {
                    throw .configuration("\(bracketPath).maximum_grams", "brackets must be in ascending order of weight")
                }
                previous = bracket.maximumGrams
            }
        }
    }

    /// The service for `method`, if offered.
    public func service(_ method: ShippingMethod) -> ShippingService? {
        services.first { $0.method == method }
    }

    /// The zone `destination` belongs to, if any.
    public func zone(for destination: PostalAddress) -> ShippingZone? {
        var best: (zone: ShippingZone, specificity: Int)?
        for zone in zones {
            for selector in zone.regions where selector.matches(destination) {
                if best == nil || selector.specificity > best!.specificity { best = (zone, selector.specificity) }
            }
        }
        return best?.zone
    }

    /// The bracket price of `weightGrams` by `method` in `zone`: `nil` when the
    /// method has no rate there, or the weight is over its heaviest bracket.
    public func price(_ method: ShippingMethod, zone: String, weightGrams: Int64) -> Money? {
        rates.first { $0.method == method && $0.zone == zone }?.brackets.first { weightGrams <= $0.maximumGrams }?.price
    }
}

/// Where, on which weekdays and for which goods a shipper (or some of its
/// services) delivers: the shipper availability database of FIG. 5.
///
/// A method can deliver to a destination only if an entry for its shipper (and
/// service) covers the destination. Hazardous materials need an entry with
/// ``hazmatAllowed``; a requested delivery day needs an entry listing that weekday,
/// and Saturday also needs a ``saturdaySurcharge`` (zero is allowed).
public struct ShipperAvailability: Sendable, Hashable {
    /// The shipper.
    public var shipper: String
    /// The services covered, or `nil` for every service of the shipper.
    public var services: Set<String>?
    /// The areas covered.
    public var regions: [RegionSelector]
    /// The weekdays on which it delivers there.
    public var weekdays: Set<Weekday>
    /// Whether it carries hazardous materials there.
    public var hazmatAllowed: Bool
    /// The extra price of delivery on a Saturday, or `nil` if it does not deliver on Saturdays.
    public var saturdaySurcharge: Money?

    /// Creates an entry.
    public init(
        shipper: String,
        services: Set<String>? = nil,
        regions: [RegionSelector],
        weekdays: Set<Weekday> = Weekday.workdays,
        hazmatAllowed: Bool = false,
        saturdaySurcharge: Money? = nil
    ) {
        self.shipper = shipper
        self.services = services
        self.regions = regions
        self.weekdays = weekdays
        self.hazmatAllowed = hazmatAllowed
        self.saturdaySurcharge = saturdaySurcharge
    }

    func covers(_ method: ShippingMethod, _ destination: PostalAddress) -> Bool {
        shipper == method.shipper && (services?.contains(method.service) ?? true) && regions.contains { $0.matches(destination) }
    }

    func delivers(on weekday: Weekday) -> Bool {
        weekday == .saturday ? weekdays.contains(.saturday) && saturdaySurcharge != nil : weekdays.contains(weekday)
    }
}

/// Merchant-wide shipping restriction rules (FIG. 5's rules database).
public struct ShippingRestrictions: Sendable, Hashable {
    /// Remote regions: no Saturday delivery there (unless ``saturdayToRemoteRegions``), and ``remoteSurcharge`` applies.
    public var remoteRegions: [RegionSelector]
    /// The extra price of delivery to a remote region, if any.
    public var remoteSurcharge: Money?
    /// Whether Saturday delivery to remote regions is ever offered.
    public var saturdayToRemoteRegions: Bool
    /// Whether hazardous materials may travel on air services (never, by default).
    public var hazmatByAir: Bool
    /// Hazmat classes the merchant does not ship at all.
    public var forbiddenHazmatClasses: Set<HazmatClass>

    /// Creates rules.
    public init(
        remoteRegions: [RegionSelector] = ShippingRestrictions.defaultRemoteRegions,
        remoteSurcharge: Money? = nil,
        saturdayToRemoteRegions: Bool = false,
        hazmatByAir: Bool = false,
        forbiddenHazmatClasses: Set<HazmatClass> = [.explosives]
    ) {
        self.remoteRegions = remoteRegions
        self.remoteSurcharge = remoteSurcharge
        self.saturdayToRemoteRegions = saturdayToRemoteRegions
        self.hazmatByAir = hazmatByAir
        self.forbiddenHazmatClasses = forbiddenHazmatClasses
    }

    /// Alaska, Hawaii, Puerto Rico (as a US region or a country), Yukon, the Northwest Territories and Nunavut.
    public static let defaultRemoteRegions: [RegionSelector] = [
        RegionSelector("US-AK"), RegionSelector("US-HI"), RegionSelector("US-PR"), RegionSelector("PR"),
        RegionSelector("CA-YT"), RegionSelector("CA-NT"), RegionSelector("CA-NU"),
    ]

    /// True when `destination` is in a remote region.
    public func isRemote(_ destination: PostalAddress) -> Bool {
        remoteRegions.contains { $0.matches(destination) }
    }
}
