import Foundation
import ParleyClient
import ParleyOrders
import ParleyPKI
import ParleyProtos
import ParleyTesting
import ParleyWire
import Testing

/// Merchant set-up and Negotiate end to end: real clients over mutual TLS
/// against a daemon with the Orders subsystem.
@Suite("Negotiate over live mTLS")
struct NegotiateLiveTests {
    static func money(_ cents: Int64) -> Parley_V1_Money {
        var money = Parley_V1_Money()
        money.minorUnits = cents
        money.currency = "USD"
        return money
    }

    static func item(_ sku: String, cents: Int64, grams: Int64, hazmat: String = "") -> Parley_V1_CatalogItem {
        var item = Parley_V1_CatalogItem()
        item.sku = sku
        item.title = sku.capitalized
        item.itemClass = hazmat.isEmpty ? "home" : "chemicals"
        item.unitPrice = money(cents)
        item.weightGrams = grams
        item.hazmatClass = hazmat
        item.taxCategory = "general"
        return item
    }

    static var configuration: Parley_V1_MerchantConfiguration {
        var configuration = Parley_V1_MerchantConfiguration()
        configuration.currency = "USD"
        var shipping = Parley_V1_ShippingConfiguration()
        for (service, mode) in [("ground", "ground"), ("air", "air")] {
            var definition = Parley_V1_ShippingServiceDefinition()
            definition.shipper = "ups"
            definition.service = service
            definition.mode = mode
            definition.displayName = "UPS \(service)"
            shipping.services.append(definition)
            var rate = Parley_V1_ShippingRateDefinition()
            rate.shipper = "ups"
            rate.service = service
            rate.zone = "us"
            var bracket = Parley_V1_WeightBracket()
            bracket.maxGrams = 30_000
            bracket.price = money(service == "air" ? 2_500 : 900)
            rate.brackets = [bracket]
            shipping.rates.append(rate)
        }
        var zone = Parley_V1_ShippingZoneDefinition()
        zone.name = "us"
        var us = Parley_V1_Region()
        us.country = "US"
        zone.regions = [us]
        shipping.zones = [zone]
        var availability = Parley_V1_ShipperAvailabilityDefinition()
        availability.shipper = "ups"
        availability.regions = [us]
        availability.hazmatAllowed = true
        shipping.availability = [availability]
        configuration.shipping = shipping
        configuration.acceptedPaymentKinds = [.purchaseOrder, .card]
        return configuration
    }

    static func order(_ lines: [(String, Int64)], methods: [String] = ["ground"]) -> Parley_V1_OrderAcceptanceRequest {
        var request = Parley_V1_OrderAcceptanceRequest()
        request.orderID = "order-1"
        request.merchant = "lamps"
        request.buyer.id = "b-1"
        request.buyer.email = "pat@example.com"
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
        request.shippingMethods = methods.map { service in
            var method = Parley_V1_ShippingMethodChoice()
            method.shipper = "ups"
            method.service = service
            return method
        }
        var card = Parley_V1_PaymentInstrumentRequest()
        card.kind = .card
        card.cardNumber = "4242424242424242"
        card.cardExpiry = "12/30"
        request.payments = [card]
        request.approval = .quote
        return request
    }

    /// A daemon whose merchant "lamps" has a catalog and a configuration.
    func withMerchant(_ body: @Sendable (TestDaemon) async throws -> Void) async throws {
        try await withTestDaemon { daemon in
            let merchant = try daemon.client("lamps", roles: [.merchant])
            var configuration = Parley_V1_ApplyConfigurationRequest()
            configuration.configuration = Self.configuration
            let applied = try await merchant.unary(MerchantService.applyConfiguration, configuration, as: Parley_V1_MerchantConfiguration.self)
            #expect(applied.merchant == "lamps")
            var catalog = Parley_V1_ImportCatalogRequest()
            catalog.items = [Self.item("lamp", cents: 1_999, grams: 1_200), Self.item("solvent", cents: 850, grams: 900, hazmat: "3")]
            let imported = try await merchant.unary(MerchantService.importCatalog, catalog, as: Parley_V1_ImportCatalogResponse.self)
            #expect(imported.imported == 2 && imported.catalogSize == 2)
            try await body(daemon)
        }
    }

    @Test("an acceptable order: priced lines, ground shipping, California tax, the card the merchant accepts; totals add up")
    func acceptable() async throws {
        try await withMerchant { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            let response = try await agent.unary(OrdersService.negotiate, Self.order([("lamp", 2)]), as: Parley_V1_OrderAcceptanceResponse.self)
            #expect(response.status == .acceptable, "amendments: \(response.amendments)")
            let order = response.order
            #expect(order.subtotal.minorUnits == 3_998)
            #expect(order.shipping.service == "ground" && order.shipping.price.minorUnits == 900)
            #expect(!order.tax.isEmpty && order.taxTotal.minorUnits > 0)
            #expect(order.total.minorUnits == order.subtotal.minorUnits + order.discount.minorUnits + order.shipping.price.minorUnits + order.taxTotal.minorUnits)
            #expect(order.paymentKind == .card)
            #expect(order.paymentReference.hasSuffix("4242") && !order.paymentReference.contains("424242"))
            #expect(response.shippingOptions.contains { $0.service == "air" })
        }
    }

    @Test("hazmat by air is refused, with ground offered as the alternative and its price difference")
    func hazmatByAir() async throws {
        try await withMerchant { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            let response = try await agent.unary(
                OrdersService.negotiate,
                Self.order([("solvent", 1)], methods: ["air"]),
                as: Parley_V1_OrderAcceptanceResponse.self
            )
            #expect(response.status == .amendments, "amendments: \(response.amendments)")
            let shipping = try #require(response.amendments.first { $0.path.hasPrefix("shipping_methods") && $0.blocking })
            let ground = try #require(shipping.alternatives.first { alternative in alternative.replacements.contains { $0.value.contains("ground") } })
            #expect(ground.priceDifference.currency == "USD")
            #expect(response.shippingOptions.map(\.service) == ["ground"])
        }
    }

    @Test(
        "bad input is INVALID_ARGUMENT (or NOT_FOUND) naming the field",
        arguments: [
            ("unknown SKU", "lines[0].sku"),
            ("negative quantity", "lines[0].quantity"),
            ("malformed card", "payments[0].card_number"),
            ("currency mismatch", "currency"),
            ("missing merchant", "merchant"),
            ("unknown merchant", "merchant"),
        ]
    )
    func badInput(_ case: String, field: String) async throws {
        try await withMerchant { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            var request = Self.order([("lamp", 1)])
            switch `case` {
            case "unknown SKU": request.lines[0].sku = "no-such-lamp"
            case "negative quantity": request.lines[0].quantity = -2
            case "malformed card": request.payments[0].cardNumber = "4242 4242 4242 4241"
            case "currency mismatch": request.currency = "EUR"
            case "missing merchant": request.merchant = ""
            default: request.merchant = "nobody"
            }
            do {
                _ = try await agent.unary(OrdersService.negotiate, request, as: Parley_V1_OrderAcceptanceResponse.self)
                Issue.record("\(`case`) was accepted")
            } catch let error as RPCError {
                #expect(error.code == (`case` == "unknown merchant" ? .notFound : .invalidArgument))
                #expect(error.violations.map(\.field) == [field], "\(error)")
            }
        }
    }

    @Test("set-up: a configuration error names its field; a merchant cannot touch another's catalog; an agent cannot configure")
    func setupErrors() async throws {
        try await withMerchant { daemon in
            let merchant = try daemon.client("lamps", roles: [.merchant])
            var bad = Parley_V1_ApplyConfigurationRequest()
            bad.configuration = Self.configuration
            bad.configuration.shipping.services[1].mode = "teleport"
            await #expect {
                _ = try await merchant.unary(MerchantService.applyConfiguration, bad, as: Parley_V1_MerchantConfiguration.self)
            } throws: { error in
                (error as? RPCError)?.violations.map(\.field) == ["configuration.shipping.services[1].mode"]
            }
            // Nothing changed: both methods still quote.
            let agent = try daemon.client("acme-travel", roles: [.agent])
            let response = try await agent.unary(OrdersService.negotiate, Self.order([("lamp", 1)]), as: Parley_V1_OrderAcceptanceResponse.self)
            #expect(response.shippingOptions.count == 2)

            let other = try daemon.client("candles", roles: [.merchant])
            var foreign = Parley_V1_ImportCatalogRequest()
            foreign.merchant = "lamps"
            foreign.items = [Self.item("fake-lamp", cents: 1, grams: 1)]
            await #expect {
                _ = try await other.unary(MerchantService.importCatalog, foreign, as: Parley_V1_ImportCatalogResponse.self)
            } throws: { error in
                (error as? RPCError)?.code == .permissionDenied
            }
            var configure = Parley_V1_ApplyConfigurationRequest()
            configure.configuration = Self.configuration
            await #expect {
                _ = try await agent.unary(MerchantService.applyConfiguration, configure, as: Parley_V1_MerchantConfiguration.self)
            } throws: { error in
                (error as? RPCError)?.code == .permissionDenied
            }
            var get = Parley_V1_GetCatalogItemRequest()
            get.merchant = "lamps"
            get.sku = "solvent"
            let solvent = try await agent.unary(MerchantService.getCatalogItem, get, as: Parley_V1_CatalogItem.self)
            #expect(solvent.hazmatClass == "3" && solvent.unitPrice.minorUnits == 850)
        }
    }
}
