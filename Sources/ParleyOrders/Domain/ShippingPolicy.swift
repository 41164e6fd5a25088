/// One thing to ship: a priced line or a free item.
public struct ShipmentItem: Sendable, Hashable {
    /// Where it is in the request (`lines[1]`).
    public var path: String
    /// Its total weight in grams.
    public var weightGrams: Int64
    /// Its hazmat class, or `nil`.
    public var hazmatClass: HazmatClass?

    /// Creates an item.
    public init(path: String, weightGrams: Int64, hazmatClass: HazmatClass? = nil) {
        self.path = path
        self.weightGrams = weightGrams
        self.hazmatClass = hazmatClass
    }

    /// The shipment item of a priced line.
    public init(_ line: PricedLine) {
        self.init(path: line.path, weightGrams: line.weightGrams, hazmatClass: line.item.hazmatClass)
    }
}

/// What the shipping step is asked.
public struct ShipmentRequest: Sendable, Hashable {
    /// What is shipped.
    public var items: [ShipmentItem]
    /// Where to (normalized by the address check).
    public var destination: PostalAddress
    /// The requested delivery day as any Unix-millisecond instant within it (UTC), or `nil` for any day.
    public var requestedDeliveryMilliseconds: Int64?
    /// The methods the client accepts, most preferred first.
    public var acceptableMethods: [ShippingMethod]

    /// Creates a request.
    public init(items: [ShipmentItem], destination: PostalAddress, requestedDeliveryMilliseconds: Int64? = nil, acceptableMethods: [ShippingMethod]) {
        self.items = items
        self.destination = destination
        self.requestedDeliveryMilliseconds = requestedDeliveryMilliseconds
        self.acceptableMethods = acceptableMethods
    }

    /// The total weight in grams (saturating).
    public var totalWeightGrams: Int64 {
        items.reduce(Int64(0)) { total, item in
            let (sum, overflow) = total.addingReportingOverflow(max(item.weightGrams, 0))
            return overflow ? .max : sum
        }
    }

    /// The distinct hazmat classes in the shipment.
    public var hazmatClasses: Set<HazmatClass> { Set(items.compactMap(\.hazmatClass)) }
}

/// Why a method cannot carry the shipment.
public struct ShippingRefusal: Sendable, Hashable {
    /// `SHIPPING_UNAVAILABLE`, `SHIPPING_HAZMAT` or `SATURDAY_UNAVAILABLE`.
    public var code: Amendment.Code
    /// The reason for people.
    public var message: String

    /// Creates a refusal.
    public init(code: Amendment.Code, message: String) {
        self.code = code
        self.message = message
    }
}

/// The price of a method for a shipment.
public struct ShippingCharge: Sendable, Hashable {
    /// The weight-bracket price.
    public var base: Money
    /// The Saturday-delivery surcharge (zero unless delivered on a Saturday).
    public var saturdaySurcharge: Money
    /// The remote-region surcharge (zero unless remote).
    public var remoteSurcharge: Money
    /// The sum of the three.
    public var total: Money
}

/// A shippable choice: a method, a delivery day, and its price.
public struct ShippingOption: Sendable, Hashable {
    /// The method.
    public var method: ShippingMethod
    /// The delivery day (Unix milliseconds), or `nil` when none was requested.
    public var deliveryMilliseconds: Int64?
    /// What it costs.
    public var charge: ShippingCharge
    /// Its price minus the chosen option's (or its full price when nothing was chosen).
    public var priceDifference: Money
    /// A description for people: `Acme Ground, delivered Friday 2025-01-03 for $8.00`.
    public var description: String
}

/// What one of the client's methods came to.
public struct MethodQuote: Sendable, Hashable {
    /// The method, as the client listed it.
    public var method: ShippingMethod
    /// Its price, when it can carry the shipment.
    public var charge: ShippingCharge?
    /// Why not, when it cannot (every reason found).
    public var refusals: [ShippingRefusal]
}

/// The shipping computation for one order.
public struct ShippingQuote: Sendable, Hashable {
    /// Each of the client's methods, in the client's order, with a price or refusals.
    public var requested: [MethodQuote]
    /// The client's most preferred method that can carry the shipment on the requested day.
    public var chosen: ShippingOption?
    /// Every other acceptable choice (other methods, other days near the requested one),
    /// ranked by price difference from ``chosen`` (see ``Amendment/ranked(_:)``).
    public var alternatives: [ShippingOption]
    /// Text for the buyer on why choices are restricted; empty when nothing was.
    public var explanation: String
    /// The delivery day that was requested, if any.
    public var requestedDeliveryMilliseconds: Int64?

    /// The list of acceptable shipping choices: ``chosen`` then ``alternatives``.
    /// Empty means the order is not shippable, and ``explanation`` says why.
    public var available: [ShippingOption] { (chosen.map { [$0] } ?? []) + alternatives }
}

/// A merchant's shipping set-up and the FIG. 5 shipping restriction rules
/// calculator over it.
public struct ShippingPolicy: Sendable, Hashable {
    /// Services, zones and prices.
    public var rates: ShippingRateTable
    /// Where and when each shipper delivers, and whether it takes hazmat.
    public var availability: [ShipperAvailability]
    /// Merchant-wide rules: remote regions, hazmat by air, forbidden classes.
    public var restrictions: ShippingRestrictions

    /// Creates a policy.
    public init(rates: ShippingRateTable, availability: [ShipperAvailability], restrictions: ShippingRestrictions = ShippingRestrictions()) {
        self.rates = rates
        self.availability = availability
        self.restrictions = restrictions
    }

    /// Prices `method` for `request` delivered on `deliveryMilliseconds`, or says why it cannot.
    ///
    /// The checks, all reported: the method is offered; no forbidden hazmat class;
    /// no hazmat on an air service (unless allowed); the destination is in a zone the
    /// method has a rate for and the weight within its brackets; an availability
    /// entry covers the destination, takes hazmat if needed, and delivers on the
    /// requested weekday (Saturday: only with a surcharge, and never to a remote
    /// region unless allowed). Price = bracket price + Saturday surcharge + remote surcharge.
    public func evaluate(_ method: ShippingMethod, for request: ShipmentRequest, deliveryMilliseconds: Int64?) -> Result<ShippingCharge, RefusalList> {
        var refusals = [ShippingRefusal]()
        func refuse(_ code: Amendment.Code, _ message: String) { refusals.append(ShippingRefusal(code: code, message: message)) }
        let destination = request.destination
        let area = RegionSelector(country: destination.country, region: destination.region.isEmpty ? nil : destination.region)

        guard let service = rates.service(method) else {
            return .failure(RefusalList([ShippingRefusal(code: .shippingUnavailable, message: "\(method) is not a shipping method this merchant offers")]))
        }
        let name = service.displayName
        let hazmat = request.hazmatClasses
        let hazmatText = hazmat.sorted().map(\.rawValue).joined(separator: ", ")
        let forbidden = hazmat.intersection(restrictions.forbiddenHazmatClasses)
        if !forbidden.isEmpty {
            refuse(.shippingHazmat, "hazmat class \(forbidden.sorted().map(\.rawValue).joined(separator: ", ")) cannot be shipped by any method")
        }
        if !hazmat.isEmpty, service.mode == .air, !restrictions.hazmatByAir {
            refuse(.shippingHazmat, "\(name) travels by air, which cannot carry hazardous materials (class \(hazmatText))")
        }

        var base: Money?
        let weight = request.totalWeightGrams
        if let zone = rates.zone(for: destination) {
            if rates.rates.contains(where: { $0.method == method && $0.zone == zone.name }) {
                base = rates.price(method, zone: zone.name, weightGrams: weight)
                if base == nil { refuse(.shippingUnavailable, "\(name) takes at most \(maximumGrams(method, zone.name)) g to \(area); this order weighs \(weight) g") }
            } else {
                refuse(.shippingUnavailable, "\(name) does not deliver to \(area)")
            }
        } else {
            refuse(.shippingUnavailable, "no shipping method delivers to \(area)")
        }

        let remote = restrictions.isRemote(destination)
        var saturdaySurcharge = Money.zero(rates.currency)
        let covering = availability.filter { $0.covers(method, destination) }
        if covering.isEmpty {
            if base != nil { refuse(.shippingUnavailable, "\(name) does not serve \(area)") }
        } else {
            // Once hazmat is refused by a merchant-wide rule, the day is still checked on every entry.
            let hazmatRefused = refusals.contains { $0.code == .shippingHazmat }
            let carrying = hazmat.isEmpty || hazmatRefused ? covering : covering.filter(\.hazmatAllowed)
            if carrying.isEmpty {
                refuse(.shippingHazmat, "\(name) does not carry hazardous materials (class \(hazmatText)) to \(area)")
            } else if let day = deliveryMilliseconds {
                let weekday = Weekday(unixMilliseconds: day)
                let delivering = carrying.filter { $0.delivers(on: weekday) }
                if weekday == .saturday, remote, !restrictions.saturdayToRemoteRegions {
                    refuse(.saturdayUnavailable, "no Saturday delivery to remote region \(area)")
                } else if delivering.isEmpty {
                    if weekday == .saturday {
                        refuse(.saturdayUnavailable, "\(name) does not deliver on Saturdays to \(area)\(hazmat.isEmpty ? "" : " with hazardous materials")")
                    } else {
                        refuse(.shippingUnavailable, "\(name) does not deliver on \(weekday.name)s to \(area)")
                    }
                } else if weekday == .saturday {
                    saturdaySurcharge = delivering.compactMap(\.saturdaySurcharge).min { $0.minorUnits < $1.minorUnits } ?? saturdaySurcharge
                }
            }
        }

        guard refusals.isEmpty, let base else { return .failure(RefusalList(refusals)) }
        let remoteSurcharge = remote ? restrictions.remoteSurcharge ?? .zero(rates.currency) : .zero(rates.currency)
        guard let total = try? base.adding(saturdaySurcharge).adding(remoteSurcharge) else {
            return .failure(RefusalList([ShippingRefusal(code: .shippingUnavailable, message: "surcharges are not in \(rates.currency)")]))
        }
        return .success(ShippingCharge(base: base, saturdaySurcharge: saturdaySurcharge, remoteSurcharge: remoteSurcharge, total: total))
    }

    private func maximumGrams(_ method: ShippingMethod, _ zone: String) -> Int64 {
        rates.rates.first { $0.method == method && $0.zone == zone }?.brackets.last?.maximumGrams ?? 0
    }

    /// Quotes every method the client accepts, chooses one, and lists the alternatives.
    ///
    /// The chosen option is the client's most preferred method that can carry the
    /// shipment on the requested day. Alternatives are the other (method, day) pairs
    /// that can: every method the merchant offers, on the requested day; and, when a
    /// day was requested and the client's first method cannot make it, the client's
    /// methods on the nearest other delivery days (the day before and the day after,
    /// moved off the weekend: for a Saturday, the Friday before and the Monday after).
    /// They are ranked by price difference from the chosen option (by price when
    /// nothing was chosen), see ``Amendment/ranked(_:)``. An empty ``ShippingQuote/available`` list means
    /// the order is not shippable, and ``ShippingQuote/explanation`` says why.
    public func quote(_ request: ShipmentRequest) -> ShippingQuote {
        let day = request.requestedDeliveryMilliseconds
        var requested = [MethodQuote]()
        var chosen: (method: ShippingMethod, charge: ShippingCharge)?
        var reasons = [String]()
        for method in request.acceptableMethods {
            switch evaluate(method, for: request, deliveryMilliseconds: day) {
            case .success(let charge):
                requested.append(MethodQuote(method: method, charge: charge, refusals: []))
                if chosen == nil { chosen = (method, charge) }
            case .failure(let list):
                requested.append(MethodQuote(method: method, charge: nil, refusals: list.refusals))
                reasons += list.refusals.map(\.message)
            }
        }

        // Same day: every method the merchant offers. Nearby days: the client's own
        // methods, only when its first choice cannot deliver on the requested day.
        var candidates = [(method: ShippingMethod, day: Int64?, charge: ShippingCharge)]()
        for service in rates.services where service.method != chosen?.method {
            switch evaluate(service.method, for: request, deliveryMilliseconds: day) {
            case .success(let charge): candidates.append((service.method, day, charge))
            case .failure(let list): reasons += list.refusals.map(\.message)
            }
        }
        if let day, let first = requested.first, first.charge == nil {
            for otherDay in Self.neighbouringDeliveryDays(day) {
                for method in request.acceptableMethods {
                    if case .success(let charge) = evaluate(method, for: request, deliveryMilliseconds: otherDay) {
                        candidates.append((method, otherDay, charge))
                    }
                }
            }
        }

        let currency = rates.currency
        let reference = chosen?.charge.total ?? .zero(currency)
        func option(_ method: ShippingMethod, _ day: Int64?, _ charge: ShippingCharge) -> ShippingOption {
            let name = rates.service(method)?.displayName ?? method.id
            let when = day.map { ", delivered \(Weekday(unixMilliseconds: $0).name) \(Weekday.isoDate(unixMilliseconds: $0))" } ?? ""
            return ShippingOption(
                method: method,
                deliveryMilliseconds: day,
                charge: charge,
                priceDifference: ItemCheck.difference(charge.total, reference),
                description: "\(name)\(when) for \(charge.total)"
            )
        }
        let ranked = Amendment.rankOrder(candidates.map { option($0.method, $0.day, $0.charge) }, \.priceDifference)

        let unique = reasons.uniqued()
        var explanation = unique.joined(separator: "; ")
        if chosen == nil, ranked.isEmpty {
            explanation = "not shippable: " + (unique.isEmpty ? "no shipping method was offered" : explanation)
        }
        return ShippingQuote(
            requested: requested,
            chosen: chosen.map { option($0.method, day, $0.charge) },
            alternatives: ranked,
            explanation: explanation,
            requestedDeliveryMilliseconds: day
        )
    }

    /// The nearest other delivery days to `day`: the day before and after, moved
    /// off the weekend (Saturday → Friday and Monday; Sunday → Friday and Monday).
    static func neighbouringDeliveryDays(_ day: Int64) -> [Int64] {
        let oneDay = Weekday.millisecondsPerDay
        switch Weekday(unixMilliseconds: day) {
        case .saturday: return [day - oneDay, day + 2 * oneDay]
        case .sunday: return [day - 2 * oneDay, day + oneDay]
        case .monday: return [day - 3 * oneDay, day + oneDay]
        case .friday: return [day - oneDay, day + 3 * oneDay]
        default: return [day - oneDay, day + oneDay]
        }
    }
}

/// The refusals of one method (an `Error` so it can sit in a `Result`).
public struct RefusalList: Error, Sendable, Hashable {
    /// Every reason found.
    public var refusals: [ShippingRefusal]
    /// Wraps refusals.
    public init(_ refusals: [ShippingRefusal]) { self.refusals = refusals }
}
