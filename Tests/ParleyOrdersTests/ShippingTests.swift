import ParleyOrders
import Testing

@Suite("Shipping")
struct ShippingTests {
    typealias F = Fixtures
    let policy = F.shipping

    func request(_ items: [ShipmentItem], to destination: PostalAddress = F.seattle, on day: Int64? = nil, methods: [ShippingMethod]) -> ShipmentRequest {
        ShipmentRequest(items: items, destination: destination, requestedDeliveryMilliseconds: day, acceptableMethods: methods)
    }

    let widgets = [ShipmentItem(path: "lines[0]", weightGrams: 500)]
    let acid = [ShipmentItem(path: "lines[0]", weightGrams: 1_400, hazmatClass: .corrosives)]

    @Test("the UTC weekday of a Unix-millisecond instant", arguments: [
        (Int64(0), Weekday.thursday), (-1, .wednesday), (-86_400_000, .wednesday), (1_735_689_600_000, .wednesday),
        (1_735_948_800_000, .saturday), (1_735_948_800_000 + 86_399_999, .saturday), (1_736_035_200_000, .sunday), (1_709_164_800_000, .thursday),
    ])
    func weekday(milliseconds: Int64, expected: Weekday) {
        #expect(Weekday(unixMilliseconds: milliseconds) == expected)
    }

    @Test("the UTC calendar date of a Unix-millisecond instant", arguments: [
        (Int64(0), "1970-01-01"), (Int64(-1), "1969-12-31"), (1_709_164_800_000, "2024-02-29"), (1_735_948_800_000 + 86_399_999, "2025-01-04"),
        (253_402_300_799_000, "9999-12-31"), (-62_135_596_800_000, "0001-01-01"),
    ] as [(Int64, String)])
    func isoDate(milliseconds: Int64, date: String) {
        #expect(Weekday.isoDate(unixMilliseconds: milliseconds) == date)
    }

    @Test("method ids parse as shipper/service")
    func methodIDs() {
        #expect(ShippingMethod(id: "acme-freight/ground") == F.ground)
        for bad in ["ground", "/ground", "acme/", "a/b/c"] { #expect(ShippingMethod(id: bad) == nil) }
    }

    @Test("the client's first method is chosen; the others are alternatives ranked by price difference")
    func plainQuote() {
        let quote = policy.quote(request(widgets, methods: [F.ground, F.air]))
        #expect(quote.chosen?.method == F.ground)
        #expect(quote.chosen?.charge.total == F.usd(800))
        #expect(quote.alternatives.map(\.method) == [F.courier, F.air])
        #expect(quote.alternatives.map(\.priceDifference) == [F.usd(700), F.usd(1_700)])
        #expect(quote.explanation.isEmpty)
        #expect(quote.amendments().isEmpty)
    }

    @Test("hazardous materials never travel by air: the air method is refused and ground chosen")
    func hazmatNotByAir() {
        let quote = policy.quote(request(acid, methods: [F.air, F.ground, F.courier]))
        #expect(quote.requested.first?.refusals.map(\.code) == [.shippingHazmat])
        #expect(quote.requested.last?.refusals.first?.message == "Swift Courier Express does not carry hazardous materials (class 8) to US-WA")
        #expect(quote.chosen?.method == F.ground)
        // The courier takes no hazmat, so it is not an alternative either.
        #expect(quote.alternatives.isEmpty)
        let notices = quote.amendments()
        // Only the refused methods the client preferred to the chosen one get a notice.
        #expect(notices.map(\.path) == ["shipping_methods[0]"])
        #expect(notices.map(\.code) == [.shippingHazmat])
        #expect(!notices.hasBlocking)
    }

    @Test("with only air requested, hazmat is a blocking SHIPPING_HAZMAT amendment offering ground")
    func hazmatOnlyAir() {
        let amendments = policy.quote(request(acid, methods: [F.air])).amendments()
        let amendment = try! #require(amendments.first)
        #expect(amendment.code == .shippingHazmat)
        #expect(amendment.isBlocking)
        #expect(amendment.path == "shipping_methods")
        #expect(amendment.alternatives.map(\.replacements) == [[.init(path: "shipping_methods[0]", value: .text("acme-freight/ground"))]])
        #expect(amendment.alternatives.map(\.priceDifference) == [F.usd(800)])
    }

    @Test("Saturday delivery: refused by a weekday-only method, with Saturday prices and other days offered")
    func saturdayRefused() {
        let quote = policy.quote(request(widgets, on: F.saturday, methods: [F.ground]))
        #expect(quote.chosen == nil)
        #expect(quote.requested.first?.refusals.map(\.code) == [.saturdayUnavailable])
        #expect(quote.alternatives.map(\.description) == [
            "Acme Ground, delivered Friday 2025-01-03 for $8.00",
            "Acme Ground, delivered Monday 2025-01-06 for $8.00",
            "Swift Courier Express, delivered Saturday 2025-01-04 for $20.00",
            "Acme Next-Day Air, delivered Saturday 2025-01-04 for $40.00",
        ])
        let amendment = try! #require(quote.amendments().first)
        #expect(amendment.code == .saturdayUnavailable)
        #expect(amendment.alternatives.first?.replacements == [
            .init(path: "shipping_methods[0]", value: .text("acme-freight/ground")),
            .init(path: "requested_delivery_ms", value: .text("2025-01-03")),
        ])
        // The Saturday alternatives keep the day: only the method changes.
        #expect(amendment.alternatives[2].replacements.count == 1)
    }

    @Test("Saturday delivery with a method that offers it adds the surcharge")
    func saturdaySurcharge() {
        let quote = policy.quote(request(widgets, on: F.saturday + 3_600_000, methods: [F.courier, F.ground]))
        let charge = try! #require(quote.chosen?.charge)
        #expect(charge.base == F.usd(1_500))
        #expect(charge.saturdaySurcharge == F.usd(500))
        #expect(charge.total == F.usd(2_000))
        // Ground on Saturday is not offered; air on Saturday is, at $40.
        #expect(quote.alternatives.map(\.method) == [F.air])
        #expect(quote.alternatives.first?.priceDifference == F.usd(2_000))
    }

    @Test("a remote region gets its surcharge and never Saturday delivery; with hazmat only ground on a weekday is left")
    func remoteSaturdayWithHazmat() {
        let quote = policy.quote(request(acid, to: F.anchorage, on: F.saturday, methods: [F.air, F.ground]))
        #expect(quote.chosen == nil)
        let airReasons = quote.requested[0].refusals.map(\.code)
        #expect(airReasons.contains(.shippingHazmat))
        #expect(quote.requested[1].refusals.map(\.code) == [.saturdayUnavailable])
        #expect(quote.requested[1].refusals.first?.message == "no Saturday delivery to remote region US-AK")
        #expect(quote.alternatives.map(\.method) == [F.ground, F.ground])
        #expect(quote.alternatives.map(\.charge.remoteSurcharge) == [F.usd(700), F.usd(700)])
        #expect(quote.alternatives.first?.charge.total == F.usd(3_700))
        #expect(quote.alternatives.map { Weekday(unixMilliseconds: $0.deliveryMilliseconds!) } == [.friday, .monday])
    }

    @Test("no delivery on Sundays with these shippers")
    func sunday() {
        let quote = policy.quote(request(widgets, on: F.saturday + 86_400_000, methods: [F.ground]))
        #expect(quote.requested.first?.refusals.first?.message == "Acme Ground does not deliver on Sundays to US-WA")
        #expect(quote.alternatives.contains { $0.method == F.ground && Weekday(unixMilliseconds: $0.deliveryMilliseconds!) == .friday })
    }

    @Test("not shippable: the list is empty and the explanation says why", arguments: [
        ([ShipmentItem(path: "lines[0]", weightGrams: 100, hazmatClass: .explosives)], Fixtures.seattle, "hazmat class 1 cannot be shipped by any method"),
        ([ShipmentItem(path: "lines[0]", weightGrams: 100)], Fixtures.london, "no shipping method delivers to GB"),
        ([ShipmentItem(path: "lines[0]", weightGrams: 16_000)], Fixtures.seattle, "Acme Ground takes at most 15000 g to US-WA; this order weighs 16000 g"),
    ])
    func notShippable(items: [ShipmentItem], destination: PostalAddress, reason: String) {
        let quote = policy.quote(request(items, to: destination, methods: [F.ground]))
        #expect(quote.available.isEmpty)
        #expect(quote.explanation.hasPrefix("not shippable: "))
        #expect(quote.explanation.contains(reason))
        let amendments = quote.amendments()
        #expect(amendments.map(\.code) == [.notShippable])
        #expect(amendments.first?.alternatives.isEmpty == true)
    }

    @Test("an unknown method is refused with SHIPPING_UNAVAILABLE; the merchant's own methods are offered")
    func unknownMethod() {
        let quote = policy.quote(request(widgets, methods: [ShippingMethod(shipper: "other", service: "pigeon")]))
        #expect(quote.requested.first?.refusals.first?.message == "other/pigeon is not a shipping method this merchant offers")
        #expect(quote.alternatives.map(\.method) == [F.ground, F.courier, F.air])
        #expect(quote.amendments().first?.code == .shippingUnavailable)
    }

    @Test("Canada is served by ground only, Monday to Friday")
    func canada() {
        let quote = policy.quote(request(widgets, to: F.toronto, methods: [F.air, F.ground]))
        #expect(quote.requested[0].refusals.first?.message == "Acme Next-Day Air does not deliver to CA-ON")
        #expect(quote.chosen?.charge.total == F.usd(1_800))
    }

    @Test("rate table validation names the field")
    func validation() {
        var rates = F.shipping.rates
        #expect(throws: Never.self) { try rates.validate() }
        rates.rates[1].brackets = [WeightBracket(maximumGrams: 5_000, price: F.usd(1)), WeightBracket(maximumGrams: 4_000, price: F.usd(2))]
        #expect((#expect(throws: OrdersError.self) { try rates.validate() })?.field == "rates[1].brackets[1].maximum_grams")
        rates.rates[1].brackets = [WeightBracket(maximumGrams: 5_000, price: F.cad(1))]
        #expect((#expect(throws: OrdersError.self) { try rates.validate() })?.field == "rates[1].brackets[0].price")
        rates.rates[1].zone = "mars"
        #expect((#expect(throws: OrdersError.self) { try rates.validate() })?.field == "rates[1].zone")
    }
}
