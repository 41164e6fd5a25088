import Foundation
import Logging
import ParleyOrders
import ParleyProtos
import ParleyWarehouse
import SwiftProtobuf

/// `parleyd --demo`: a small data set for trying Parley by hand, loaded only
/// into an empty database (an existing one is never changed).
///
/// The demo merchant, an outdoor shop, gets warehouse stock and an Orders
/// set-up: a catalog of the stocked SKUs, US ground and air shipping, the
/// sample tax tables, cards and gift certificates, every built-in plug-in,
/// reserve-on-quote, a card velocity rule and a coupon issuer whose key is
/// made at load time. One coupon signed with that key (`demo-coupon.txt`) and
/// an order that quotes ACCEPTABLE with it (`demo-order.json`) are written
/// for the operator.
public enum DemoData {
    /// The demo merchant's principal (its certificate is issued into the
    /// development directory as `demo-merchant.pem`).
    public static let merchant = "demo-merchant"

    /// The demo merchant's stock: an outdoor shop.
    public static let stock: [(sku: String, units: Int64)] = [
        ("tent-2p", 40),
        ("sleeping-bag", 60),
        ("stove-compact", 25),
        ("fuel-canister", 200),
        ("headlamp", 120),
        ("water-filter", 35),
    ]

    /// The coupon issuer the demo merchant accepts.
    public static let couponIssuer = "demo-promotions"
    /// The sample coupon's serial number.
    public static let couponSerial = "DEMO-10OFF-0001"
    /// The file the sample coupon is written to (in the files directory).
    public static let couponFileName = "demo-coupon.txt"
    /// The file the sample order is written to (in the files directory).
    public static let orderFileName = "demo-order.json"

    /// What ``load(into:logger:filesDirectory:now:)`` did.
    public struct Loaded: Sendable {
        /// The sample coupon: 10% off everything at the demo merchant, for 30 days.
        public var coupon: String
        /// Where the coupon was written, if a files directory was given.
        public var couponFile: URL?
        /// Where the sample order was written, if a files directory was given.
        public var orderFile: URL?
    }

    /// Loads the data set unless the warehouse already holds stock. Returns whether it loaded.
    @discardableResult
    public static func load(into daemon: Daemon, logger: Logger) async throws -> Bool {
        try await load(into: daemon, logger: logger, filesDirectory: nil) != nil
    }

    /// Loads the data set unless the warehouse already holds stock or the
    /// demo merchant already has an Orders set-up; returns nil when it did not.
    ///
    /// - Parameters:
    ///   - filesDirectory: where to write ``couponFileName`` and
    ///     ``orderFileName`` (parleyd uses the development certificate
    ///     directory); nil writes nothing.
    ///   - now: Unix milliseconds the coupon's 30 days run from.
    public static func load(
        into daemon: Daemon,
        logger: Logger,
        filesDirectory: URL?,
        now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)
    ) async throws -> Loaded? {
        let loader = WarehouseCaller(principal: "parleyd-demo", kinds: [.admin])
        let existing = try await daemon.warehouse.inventory(caller: loader, skus: [])
        guard existing.isEmpty, daemon.orders.setup(for: merchant) == nil else {
            logger.info("demo data not loaded: the database already has inventory or an Orders set-up")
            return nil
        }
        _ = try await daemon.warehouse.allocate(
            merchant: merchant,
            adjustments: stock.map { InventoryAdjustmentRequest(sku: $0.sku, delta: $0.units, reason: "demo data") },
            caller: loader
        )

        let minter = CouponMinter(issuer: couponIssuer)
        _ = try await daemon.orders.importCatalog(merchant: merchant, items: catalog)
        _ = try await daemon.orders.applyConfiguration(configuration(issuerKey: minter.issuerKey))
        let coupon = try minter.mint(
            Coupon(
                issuer: couponIssuer,
                serial: couponSerial,
                merchant: merchant,
                discount: .percent(basisPoints: 1_000),
                expiresAtMilliseconds: now + 30 * 86_400_000
            )
        )
        var loaded = Loaded(coupon: coupon)
        if let filesDirectory {
            try FileManager.default.createDirectory(at: filesDirectory, withIntermediateDirectories: true)
            let couponFile = filesDirectory.appendingPathComponent(couponFileName)
            try Data((coupon + "\n").utf8).write(to: couponFile, options: .atomic)
            let orderFile = filesDirectory.appendingPathComponent(orderFileName)
            try Data((try orderJSON(coupon: coupon) + "\n").utf8).write(to: orderFile, options: .atomic)
            loaded.couponFile = couponFile
            loaded.orderFile = orderFile
        }
        logger.notice(
            "demo data loaded",
            metadata: [
                "merchant": "\(merchant)", "skus": "\(stock.count)",
                "coupon": "\(loaded.couponFile?.path ?? "not written")",
                "order": "\(loaded.orderFile?.path ?? "not written")",
            ]
        )
        return loaded
    }

    // MARK: The Orders set-up

    private static func money(_ cents: Int64) -> Parley_V1_Money {
        var money = Parley_V1_Money()
        money.minorUnits = cents
        money.currency = "USD"
        return money
    }

    private static func region(_ country: String, _ region: String = "") -> Parley_V1_Region {
        var wire = Parley_V1_Region()
        wire.country = country
        wire.region = region
        return wire
    }

    /// The demo merchant's catalog: the six stocked SKUs. `fuel-canister`
    /// is hazardous (class 2, gases: ground only) and may be paid by card only.
    public static var catalog: [Parley_V1_CatalogItem] {
        func item(
            _ sku: String, _ title: String, _ itemClass: String, cents: Int64, grams: Int64, maxPerOrder: Int64 = 0,
            hazmat: String = "", cardOnly: Bool = false, tiers: [(Int64, Int64)] = []
        ) -> Parley_V1_CatalogItem {
            var item = Parley_V1_CatalogItem()
            item.sku = sku
            item.title = title
            item.itemClass = itemClass
            item.unitPrice = money(cents)
            item.weightGrams = grams
            item.maxQuantityPerOrder = maxPerOrder
            item.hazmatClass = hazmat
            item.taxCategory = "general"
            if cardOnly { item.paymentKinds = [.card] }
            item.priceTiers = tiers.map { quantity, cents in
                var tier = Parley_V1_PriceTier()
                tier.minQuantity = quantity
                tier.unitPrice = money(cents)
                return tier
            }
            return item
        }
        return [
            item("tent-2p", "Two-person tent", "camping", cents: 24_900, grams: 2_400, maxPerOrder: 5),
            item("sleeping-bag", "Three-season sleeping bag", "camping", cents: 12_900, grams: 1_300, maxPerOrder: 10),
            item("stove-compact", "Compact camp stove", "camping", cents: 4_999, grams: 350, maxPerOrder: 10),
            item("fuel-canister", "Stove fuel canister 230 g", "camping-fuel", cents: 699, grams: 400, maxPerOrder: 12, hazmat: "2", cardOnly: true),
            item("headlamp", "LED headlamp", "lighting", cents: 2_999, grams: 120, tiers: [(10, 2_499), (50, 1_999)]),
            item("water-filter", "Squeeze water filter", "camping", cents: 3_999, grams: 100, maxPerOrder: 20),
        ]
    }

    /// The demo merchant's configuration, accepting coupons signed by `issuerKey`.
    public static func configuration(issuerKey: CouponIssuerKey) -> Parley_V1_MerchantConfiguration {
        var configuration = Parley_V1_MerchantConfiguration()
        configuration.merchant = merchant
        configuration.currency = "USD"

        var shipping = Parley_V1_ShippingConfiguration()
        for (service, mode, name) in [("ground", "ground", "UPS Ground"), ("next-day-air", "air", "UPS Next Day Air")] {
            var definition = Parley_V1_ShippingServiceDefinition()
            definition.shipper = "ups"
            definition.service = service
            definition.mode = mode
            definition.displayName = name
            shipping.services.append(definition)
        }
        var contiguous = Parley_V1_ShippingZoneDefinition()
        contiguous.name = "us-contiguous"
        contiguous.regions = [region("US")]
        var remote = Parley_V1_ShippingZoneDefinition()
        remote.name = "us-remote"
        remote.regions = [region("US", "AK"), region("US", "HI"), region("US", "PR")]
        // The most specific zone wins: Alaska, Hawaii and Puerto Rico are "us-remote".
        shipping.zones = [contiguous, remote]
        let rateTable: [(service: String, zone: String, brackets: [(Int64, Int64)])] = [
            ("ground", "us-contiguous", [(1_000, 795), (5_000, 1_295), (30_000, 2_495)]),
            ("ground", "us-remote", [(1_000, 1_995), (5_000, 3_495), (30_000, 6_995)]),
            ("next-day-air", "us-contiguous", [(1_000, 2_495), (5_000, 3_995), (30_000, 7_995)]),
            ("next-day-air", "us-remote", [(5_000, 5_995), (30_000, 11_995)]),
        ]
        shipping.rates = rateTable.map { service, zone, brackets in
            var rate = Parley_V1_ShippingRateDefinition()
            rate.shipper = "ups"
            rate.service = service
            rate.zone = zone
            rate.brackets = brackets.map { grams, cents in
                var bracket = Parley_V1_WeightBracket()
                bracket.maxGrams = grams
                bracket.price = money(cents)
                return bracket
            }
            return rate
        }
        // Ground: Monday to Friday, takes hazardous items. Air: Monday to
        // Saturday (Saturday +$15), no hazardous items.
        var ground = Parley_V1_ShipperAvailabilityDefinition()
        ground.shipper = "ups"
        ground.services = ["ground"]
        ground.regions = [region("US")]
        ground.weekdays = [.monday, .tuesday, .wednesday, .thursday, .friday]
        ground.hazmatAllowed = true
        var air = Parley_V1_ShipperAvailabilityDefinition()
        air.shipper = "ups"
        air.services = ["next-day-air"]
        air.regions = [region("US")]
        air.weekdays = [.monday, .tuesday, .wednesday, .thursday, .friday, .saturday]
        air.hazmatAllowed = false
        air.saturdaySurcharge = money(1_500)
        shipping.availability = [ground, air]
        var restrictions = Parley_V1_ShippingRestrictionsDefinition()
        restrictions.remoteRegions = remote.regions
        restrictions.remoteSurcharge = money(995)
        restrictions.saturdayToRemoteRegions = false
        restrictions.hazmatByAir = false
        restrictions.forbiddenHazmatClasses = ["1"]
        shipping.restrictions = restrictions
        configuration.shipping = shipping

        // No rules: the built-in sample tables (US states, Canada, UK).
        configuration.tax = Parley_V1_TaxConfiguration()
        configuration.acceptedPaymentKinds = [.card, .giftCertificate]
        configuration.plugins = MerchantSetup.pluginNames.map { name in
            var plugin = Parley_V1_PluginSetting()
            plugin.name = name
            plugin.enabled = true
            return plugin
        }
        configuration.reserveOnQuote = true
        configuration.quoteSeconds = 900
        configuration.refusePoBoxes = true

        var velocity = Parley_V1_FraudRuleDefinition()
        velocity.id = "card-velocity"
        velocity.kind = "velocity"
        velocity.key = "card_fingerprint"
        velocity.measure = "orders"
        velocity.limit = 3
        velocity.windowMs = 90 * 60 * 1_000
        velocity.countedOutcomes = ["accepted"]
        velocity.action = "reject"
        configuration.fraudRules = [velocity]

        var issuer = Parley_V1_CouponIssuerDefinition()
        issuer.issuer = issuerKey.issuer
        issuer.publicKey = issuerKey.publicKeyText
        configuration.couponIssuers = [issuer]

        var suggestion = Parley_V1_ItemSuggestion()
        suggestion.id = "stove-needs-fuel"
        suggestion.whenSkus = ["stove-compact"]
        suggestion.suggestSku = "fuel-canister"
        suggestion.message = "The stove runs on fuel canisters: add one?"
        configuration.suggestions = [suggestion]
        return configuration
    }

    /// An order that quotes ACCEPTABLE against the demo merchant: a tent, a
    /// stove and two fuel canisters by UPS Ground to San Francisco, paid by
    /// an approving test card, with `coupon` if given.
    public static func order(coupon: String? = nil) -> Parley_V1_OrderAcceptanceRequest {
        var request = Parley_V1_OrderAcceptanceRequest()
        request.orderID = "demo-1"
        request.merchant = merchant
        request.buyer.id = "buyer-17"
        request.buyer.name = "Pat Buyer"
        request.buyer.email = "pat@example.com"
        request.buyer.buyerClass = "consumer"
        let lines: [(sku: String, quantity: Int64)] = [("tent-2p", 1), ("stove-compact", 1), ("fuel-canister", 2)]
        request.lines = lines.map { sku, quantity in
            var line = Parley_V1_OrderLineRequest()
            line.sku = sku
            line.quantity = quantity
            return line
        }
        var address = Parley_V1_Address()
        address.name = "Pat Buyer"
        address.line1 = "1 Market St"
        address.city = "San Francisco"
        address.region = "CA"
        address.postalCode = "94105"
        address.country = "US"
        request.shippingAddress = address
        request.billingAddress = address
        var ground = Parley_V1_ShippingMethodChoice()
        ground.shipper = "ups"
        ground.service = "ground"
        request.shippingMethods = [ground]
        var card = Parley_V1_PaymentInstrumentRequest()
        card.kind = .card
        card.cardNumber = "4242424242424242"
        card.cardExpiry = "12/30"
        request.payments = [card]
        if let coupon { request.coupons = [coupon] }
        request.currency = "USD"
        return request
    }

    /// ``order(coupon:)`` as indented JSON with proto field names, for `parley order quote`.
    public static func orderJSON(coupon: String?) throws -> String {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        let compact = try order(coupon: coupon).jsonUTF8Data(options: options)
        let tree = try JSONSerialization.jsonObject(with: compact)
        let pretty = try JSONSerialization.data(withJSONObject: tree, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: pretty, as: UTF8.self)
    }
}
