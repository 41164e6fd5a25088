import ParleyOrders

/// Shared test data: a small hardware merchant.
enum Fixtures {
    static func usd(_ minorUnits: Int64) -> Money { Money(minorUnits: minorUnits, currency: .usd) }
    static func cad(_ minorUnits: Int64) -> Money { Money(minorUnits: minorUnits, currency: .cad) }
    static func gbp(_ minorUnits: Int64) -> Money { Money(minorUnits: minorUnits, currency: .gbp) }

    static let widget = CatalogItem(
        sku: "WID-1", title: "Widget", itemClass: "hardware", unitPrice: usd(1_000),
        priceTiers: [VolumePriceTier(minimumQuantity: 10, unitPrice: usd(900)), VolumePriceTier(minimumQuantity: 50, unitPrice: usd(800))],
        perOrderQuantityLimit: 100, weightGrams: 250
    )
    static let acid = CatalogItem(
        sku: "ACID-NITRIC", title: "Nitric acid 1 L", itemClass: "chemicals", unitPrice: usd(4_500),
        perOrderQuantityLimit: 4, weightGrams: 1_400, hazmatClass: .corrosives,
        allowedPaymentKinds: [.purchaseOrder, .card]
    )
    static let giftCard = CatalogItem(
        sku: "GIFT-50", title: "Gift card", itemClass: "gift", unitPrice: usd(5_000), weightGrams: 10,
        allowedPaymentKinds: [.card]
    )
    static let manual = CatalogItem(sku: "BOOK-1", title: "Widget manual", itemClass: "books", unitPrice: usd(1_999), weightGrams: 400)

    static let catalog = try! Catalog(merchant: "acme", currency: .usd, items: [widget, acid, giftCard, manual])

    static func priced(_ requests: [OrderLineRequest]) -> [PricedLine] {
        ItemCheck.run(lines: requests, catalog: catalog).lines
    }

    static let seattle = PostalAddress(name: "Pat", lines: ["400 Pine St"], city: "Seattle", region: "WA", postalCode: "98101", country: "US")
    static let portland = PostalAddress(lines: ["1 Main St"], city: "Portland", region: "OR", postalCode: "97201", country: "US")
    static let anchorage = PostalAddress(lines: ["1 Ship Creek Ave"], city: "Anchorage", region: "AK", postalCode: "99501", country: "US")
    static let toronto = PostalAddress(lines: ["100 Queen St W"], city: "Toronto", region: "ON", postalCode: "M5H 2N2", country: "CA")
    static let london = PostalAddress(lines: ["10 Downing St"], city: "London", postalCode: "SW1A 2AA", country: "GB")

    // Days (UTC midnight).
    static let wednesday: Int64 = 1_735_689_600_000 // 2025-01-01
    static let friday: Int64 = 1_735_862_400_000 // 2025-01-03
    static let saturday: Int64 = 1_735_948_800_000 // 2025-01-04
    static let monday: Int64 = 1_736_121_600_000 // 2025-01-06

    static let ground = ShippingMethod(shipper: "acme-freight", service: "ground")
    static let air = ShippingMethod(shipper: "acme-freight", service: "next-day-air")
    static let courier = ShippingMethod(shipper: "swift-courier", service: "express")

    static let shipping: ShippingPolicy = {
        let brackets: ([Int64], Int64) -> [WeightBracket] = { prices, step in
            prices.enumerated().map { WeightBracket(maximumGrams: Int64($0.offset + 1) * step, price: usd($0.element)) }
        }
        let rates = ShippingRateTable(
            currency: .usd,
            services: [
                ShippingService(method: ground, mode: .ground, displayName: "Acme Ground"),
                ShippingService(method: air, mode: .air, displayName: "Acme Next-Day Air"),
                ShippingService(method: courier, mode: .ground, displayName: "Swift Courier Express"),
            ],
            zones: [
                ShippingZone(name: "contiguous", regions: [RegionSelector("US")]),
                ShippingZone(name: "remote", regions: [RegionSelector("US-AK"), RegionSelector("US-HI")]),
                ShippingZone(name: "canada", regions: [RegionSelector("CA")]),
            ],
            rates: [
                ShippingRate(method: ground, zone: "contiguous", brackets: brackets([800, 1_200, 2_000], 5_000)),
                ShippingRate(method: air, zone: "contiguous", brackets: brackets([2_500, 4_000], 5_000)),
                ShippingRate(method: courier, zone: "contiguous", brackets: brackets([1_500, 2_200], 5_000)),
                ShippingRate(method: ground, zone: "remote", brackets: brackets([3_000, 4_500], 5_000)),
                ShippingRate(method: air, zone: "remote", brackets: brackets([6_000], 5_000)),
                ShippingRate(method: ground, zone: "canada", brackets: brackets([1_800, 2_600], 5_000)),
            ]
        )
        let availability = [
            // Acme ground: everywhere, Monday to Friday, takes hazmat.
            ShipperAvailability(shipper: "acme-freight", services: ["ground"], regions: [RegionSelector("US"), RegionSelector("CA")], hazmatAllowed: true),
            // Acme air: the US, Monday to Saturday (Saturday +$15), no hazmat.
            ShipperAvailability(
                shipper: "acme-freight", services: ["next-day-air"], regions: [RegionSelector("US")],
                weekdays: Weekday.workdays.union([.saturday]), saturdaySurcharge: usd(1_500)
            ),
            // Swift Courier: contiguous US incl. Saturday (+$5), no hazmat.
            ShipperAvailability(
                shipper: "swift-courier", regions: [RegionSelector("US")],
                weekdays: Weekday.workdays.union([.saturday]), saturdaySurcharge: usd(500)
            ),
        ]
        return ShippingPolicy(rates: rates, availability: availability, restrictions: ShippingRestrictions(remoteSurcharge: usd(700)))
    }()
}
