import ParleyClient
import ParleyProtos
import ParleyWire

/// The merchant the `negotiate` and `capture` scenarios order from: its
/// configuration, catalog and stock, set up over the wire by
/// ``prepare(client:options:scenario:)``, and the orders placed with it.
///
/// The configuration enables every built-in plug-in and gives the
/// controller something to do at each step: UPS ground and air rated for the
/// 48 contiguous states and, dearer and with a remote surcharge, Alaska and
/// Hawaii; a US sales-tax table by state with a San Francisco ZIP-prefix
/// override; cards and purchase orders accepted; PO boxes refused; and two
/// fraud rules that never fire under load (a velocity limit of 1,000,000
/// units per item per hour, and an item class no catalog item has).
///
/// The catalog is `--catalog-items` items `sku-00000` … (the names `reserve`
/// uses), priced and weighed from their index, every tenth with a volume
/// price from 10 units. Orders use only the first `--stocked-skus`, which are
/// stocked in the warehouse.
///
/// An order has `linesPerOrder` lines of distinct stocked SKUs, 1–3 units
/// each, for one of a handful of US addresses (two of them remote), ground
/// preferred over air, paid by card 4242 4242 4242 4242. Its id is
/// `<run-id>-<sequence>`, the run id random per process; its choices come
/// from a ``SplitMix64`` seeded from the process's seed and the sequence
/// number, so workers share no state.
struct OrderMerchant: Sendable {
    // The services' paths (ParleyOrders is not a dependency of this tool).
    static let applyConfiguration = MethodPath(service: "parley.v1.Merchant", method: "ApplyConfiguration")
    static let importCatalog = MethodPath(service: "parley.v1.Merchant", method: "ImportCatalog")
    static let getCatalogItem = MethodPath(service: "parley.v1.Merchant", method: "GetCatalogItem")
    static let negotiate = MethodPath(service: "parley.v1.Orders", method: "Negotiate")
    static let capture = MethodPath(service: "parley.v1.Orders", method: "Capture")

    /// Catalog items per ImportCatalog call.
    static let importBatchSize = 1000

    /// The built-in plug-ins (`MerchantSetup.pluginNames`), every one enabled.
    static let pluginNames = [
        "inventory", "volume_pricing", "special_offers", "coupon_holder",
        "po_box_refusal", "shipping_restrictions", "fraud_avoidance", "payment_per_item",
    ]

    let settings: OrderSettings
    /// The stocked SKUs, which orders pick from.
    let stockedSkus: [String]
    /// Random per process: prefixes order ids and idempotency keys.
    let runID: String
    /// Mixed into each order's seed so that runs differ.
    private let seed: UInt64
    /// The parts every order shares (merchant, currency, shipping methods,
    /// card), built once: the load generator shares the machine with the
    /// daemon, so its CPU per call counts against the measurement.
    private let template: Parley_V1_OrderAcceptanceRequest
    /// ``addresses`` as wire messages, built once.
    private let wireAddresses: [Parley_V1_Address]

    init(settings: OrderSettings) {
        self.settings = settings
        stockedSkus = (0..<settings.stockedSkus).map(ReserveScenario.skuName)
        var random = SystemRandomNumberGenerator()
        seed = random.next()
        runID = "load-" + String(random.next(), radix: 36)

        var template = Parley_V1_OrderAcceptanceRequest()
        template.merchant = settings.merchant
        template.currency = "USD"
        template.buyer.buyerClass = "consumer"
        template.shippingMethods = ["ground", "air"].map { service in
            var method = Parley_V1_ShippingMethodChoice()
            method.shipper = "ups"
            method.service = service
            return method
        }
        var card = Parley_V1_PaymentInstrumentRequest()
        card.kind = .card
        card.cardNumber = "4242424242424242"
        card.cardExpiry = "12/30"
        template.payments = [card]
        self.template = template
        wireAddresses = Self.addresses.map { name, street, city, state, zip in
            var address = Parley_V1_Address()
            address.name = name
            address.line1 = street
            address.city = city
            address.region = state
            address.postalCode = zip
            address.country = "US"
            return address
        }
    }

    // MARK: Preparation

    /// Sets the merchant up, then prints one line on stderr:
    ///
    /// 1. `ApplyConfiguration` of ``configuration`` (every run: it replaces the whole configuration).
    /// 2. `ImportCatalog` of the catalog, 1000 items a call, unless
    ///    `GetCatalogItem` of its last SKU already answers (an earlier run
    ///    imported it), so repeated runs against one daemon start at once.
    /// 3. Tops the stocked SKUs up to `--stock-per-sku` free units (``StockTopUp``).
    ///
    /// Every mutating call carries an idempotency key starting with the run id.
    func prepare(client: ParleyClient, options: CallOptions, scenario: String) async throws {
        let started = ContinuousClock.now
        // An import of 1000 items into a large catalog is one transaction and a recompiled catalog: more than a load call's deadline.
        var prepareOptions = options
        prepareOptions.timeout = max(options.timeout ?? .seconds(30), .seconds(60))
        let merchant = settings.merchant

        var apply = Parley_V1_ApplyConfigurationRequest()
        apply.configuration = configuration
        var applyOptions = prepareOptions
        applyOptions.idempotencyKey = "\(runID)-configure"
        do {
            _ = try await client.unary(Self.applyConfiguration, apply, as: Parley_V1_MerchantConfiguration.self, options: applyOptions)
        } catch {
            throw LoadFailure("\(scenario): configuring merchant \(merchant) failed (ApplyConfiguration): \(error)")
        }

        let catalog: String
        if try await hasCatalog(client: client, options: prepareOptions, scenario: scenario) {
            catalog = "catalog already has \(ReserveScenario.skuName(settings.catalogItems - 1)); not imported"
        } else {
            StandardError.write("parley-load: \(scenario): importing \(settings.catalogItems) catalog items into \(merchant)…\n")
            var calls = 0
            var size: Int64 = 0
            for start in stride(from: 0, to: settings.catalogItems, by: Self.importBatchSize) {
                var request = Parley_V1_ImportCatalogRequest()
                request.merchant = merchant
                request.items = (start..<min(start + Self.importBatchSize, settings.catalogItems)).map(Self.catalogItem)
                var importOptions = prepareOptions
                importOptions.idempotencyKey = "\(runID)-import-\(calls)"
                do {
                    size = try await client.unary(Self.importCatalog, request, as: Parley_V1_ImportCatalogResponse.self, options: importOptions).catalogSize
                } catch {
                    throw LoadFailure("\(scenario): importing the catalog of \(merchant) failed (ImportCatalog of items from \(start)): \(error)")
                }
                calls += 1
            }
            catalog = "imported \(settings.catalogItems) catalog items in \(calls) ImportCatalog call(s) (catalog size \(size))"
        }

        let topUp = StockTopUp(merchant: merchant, skus: stockedSkus, target: settings.unitsPerSku, scenario: scenario, runID: runID)
        let stock = try await topUp.run(client: client, options: prepareOptions)
        let elapsed = Latency.microseconds(.now - started)
        StandardError.write(
            "parley-load: \(scenario): merchant \(merchant) configured; \(catalog); stock: \(topUp.describe(stock)) (\(Format.latency(elapsed)))\n"
        )
    }

    /// Whether the catalog's last SKU is already there: true when
    /// GetCatalogItem answers it, false on NOT_FOUND; other errors end the run.
    private func hasCatalog(client: ParleyClient, options: CallOptions, scenario: String) async throws -> Bool {
        var request = Parley_V1_GetCatalogItemRequest()
        request.merchant = settings.merchant
        request.sku = ReserveScenario.skuName(settings.catalogItems - 1)
        do {
            _ = try await client.unary(Self.getCatalogItem, request, as: Parley_V1_CatalogItem.self, options: options)
            return true
        } catch let error as RPCError where error.code == .notFound {
            return false
        } catch {
            throw LoadFailure("\(scenario): reading the catalog of \(settings.merchant) failed (GetCatalogItem): \(error)")
        }
    }

    /// The merchant's configuration (see the type's description).
    var configuration: Parley_V1_MerchantConfiguration {
        var configuration = Parley_V1_MerchantConfiguration()
        configuration.merchant = settings.merchant
        configuration.currency = "USD"

        var shipping = Parley_V1_ShippingConfiguration()
        let contiguous = Self.zone("us-48", [Self.region("US")])
        let remote = Self.zone("us-remote", [Self.region("US", "AK"), Self.region("US", "HI")])
        shipping.zones = [contiguous, remote]
        for (service, mode, name) in [("ground", "ground", "UPS Ground"), ("air", "air", "UPS Next Day Air")] {
            var definition = Parley_V1_ShippingServiceDefinition()
            definition.shipper = "ups"
            definition.service = service
            definition.mode = mode
            definition.displayName = name
            shipping.services.append(definition)
        }
        // (service, zone, [(up to grams, cents)])
        let rates: [(String, String, [(Int64, Int64)])] = [
            ("ground", "us-48", [(2_000, 695), (10_000, 1_095), (30_000, 1_495)]),
            ("ground", "us-remote", [(2_000, 1_495), (10_000, 2_495), (30_000, 3_995)]),
            ("air", "us-48", [(2_000, 1_995), (10_000, 2_995), (30_000, 4_995)]),
            ("air", "us-remote", [(2_000, 2_995), (10_000, 4_495), (30_000, 6_995)]),
        ]
        shipping.rates = rates.map { service, zone, brackets in
            var rate = Parley_V1_ShippingRateDefinition()
            rate.shipper = "ups"
            rate.service = service
            rate.zone = zone
            rate.brackets = brackets.map { grams, cents in
                var bracket = Parley_V1_WeightBracket()
                bracket.maxGrams = grams
                bracket.price = Self.money(cents)
                return bracket
            }
            return rate
        }
        var availability = Parley_V1_ShipperAvailabilityDefinition()
        availability.shipper = "ups"
        availability.regions = [Self.region("US")]
        availability.weekdays = [.monday, .tuesday, .wednesday, .thursday, .friday, .saturday]
        availability.hazmatAllowed = true
        availability.saturdaySurcharge = Self.money(1_500)
        shipping.availability = [availability]
        var restrictions = Parley_V1_ShippingRestrictionsDefinition()
        restrictions.remoteRegions = remote.regions
        restrictions.remoteSurcharge = Self.money(500)
        shipping.restrictions = restrictions
        configuration.shipping = shipping

        // (jurisdiction, name, parts per million, shipping)
        let taxRules: [(String, String, Int64, String)] = [
            ("US-CA", "CA sales tax", 72_500, "not_taxed"),
            ("US-CA-941", "San Francisco sales tax", 86_250, "not_taxed"),
            ("US-NY", "NY sales tax", 40_000, "follows_goods"),
            ("US-TX", "TX sales tax", 62_500, "standard"),
            ("US-WA", "WA sales tax", 65_000, "standard"),
            ("US-IL", "IL sales tax", 62_500, "not_taxed"),
            ("US-HI", "HI general excise tax", 40_000, "standard"),
        ]
        configuration.tax.rules = taxRules.map { jurisdiction, name, rate, shipping in
            var rule = Parley_V1_TaxRuleDefinition()
            rule.jurisdiction = jurisdiction
            rule.name = name
            rule.standardRatePpm = rate
            rule.shipping = shipping
            return rule
        }

        configuration.acceptedPaymentKinds = [.card, .purchaseOrder]
        configuration.plugins = Self.pluginNames.map { name in
            var plugin = Parley_V1_PluginSetting()
            plugin.name = name
            plugin.enabled = true
            plugin.timeoutMs = 50
            return plugin
        }
        var velocity = Parley_V1_FraudRuleDefinition()
        velocity.id = "units-per-item-per-hour"
        velocity.kind = "velocity"
        velocity.key = "item"
        velocity.measure = "units"
        velocity.limit = 1_000_000
        velocity.windowMs = 3_600_000
        var permission = Parley_V1_FraudRuleDefinition()
        permission.id = "restricted-items-business-only"
        permission.kind = "item_class_permission"
        permission.itemClass = "restricted"
        permission.allowedBuyerClasses = ["business"]
        configuration.fraudRules = [velocity, permission]
        configuration.refusePoBoxes = true
        return configuration
    }

    /// Item `index` of the catalog: $5.00–$204.99, 100–2,000 g, every tenth
    /// with a volume price from 10 units.
    static func catalogItem(_ index: Int) -> Parley_V1_CatalogItem {
        var item = Parley_V1_CatalogItem()
        item.sku = ReserveScenario.skuName(index)
        item.title = "Load item \(index)"
        item.itemClass = ["home", "garden", "kitchen", "outdoor"][index % 4]
        let cents = 500 + Int64(index * 7_919 % 20_000)
        item.unitPrice = money(cents)
        if index % 10 == 0 {
            var tier = Parley_V1_PriceTier()
            tier.minQuantity = 10
            tier.unitPrice = money(cents * 9 / 10)
            item.priceTiers = [tier]
        }
        item.weightGrams = 100 + Int64(index * 37 % 1_901)
        item.taxCategory = "general"
        return item
    }

    // MARK: Orders

    /// (name, street, city, state, ZIP): the first ones in the 48 states, the last two remote.
    static let addresses: [(String, String, String, String, String)] = [
        ("Pat Buyer", "1 Market St", "San Francisco", "CA", "94105"),
        ("Sam Buyer", "350 5th Ave", "New York", "NY", "10118"),
        ("Alex Buyer", "600 Congress Ave", "Austin", "TX", "78701"),
        ("Jo Buyer", "400 Broad St", "Seattle", "WA", "98109"),
        ("Lee Buyer", "233 S Wacker Dr", "Chicago", "IL", "60606"),
        ("Kai Buyer", "1 Aloha Tower Dr", "Honolulu", "HI", "96813"),
        ("Max Buyer", "605 W 4th Ave", "Anchorage", "AK", "99501"),
    ]

    /// The order numbered `sequence` (see the type's description).
    func order(sequence: UInt64, approval: Parley_V1_ApprovalStatus) -> Parley_V1_OrderAcceptanceRequest {
        var random = SplitMix64(seed: seed ^ sequence)
        var request = template
        request.orderID = "\(runID)-\(sequence)"
        request.approval = approval

        let buyer = random.next(upperBound: 10_000 as UInt64)
        request.buyer.id = "load-buyer-\(buyer)"
        request.buyer.email = "buyer-\(buyer)@example.com"

        var picked: [Int] = []
        while picked.count < settings.linesPerOrder {
            let index = Int(random.next(upperBound: UInt64(stockedSkus.count)))
            if !picked.contains(index) { picked.append(index) }
        }
        request.lines = picked.map { index in
            var line = Parley_V1_OrderLineRequest()
            line.sku = stockedSkus[index]
            line.quantity = Int64(random.next(upperBound: 3 as UInt64)) + 1
            return line
        }

        let address = wireAddresses[Int(random.next(upperBound: UInt64(wireAddresses.count)))]
        request.shippingAddress = address
        request.billingAddress = address
        return request
    }

    /// `code at path, …` of the amendments, for a failure's message.
    static func describe(_ amendments: [Parley_V1_Amendment]) -> String {
        amendments.isEmpty ? "no amendments" : amendments.map { "\($0.code) at \($0.path)" }.joined(separator: ", ")
    }

    // MARK: Wire values

    static func money(_ cents: Int64) -> Parley_V1_Money {
        var money = Parley_V1_Money()
        money.minorUnits = cents
        money.currency = "USD"
        return money
    }

    static func region(_ country: String, _ region: String = "") -> Parley_V1_Region {
        var selector = Parley_V1_Region()
        selector.country = country
        selector.region = region
        return selector
    }

    static func zone(_ name: String, _ regions: [Parley_V1_Region]) -> Parley_V1_ShippingZoneDefinition {
        var zone = Parley_V1_ShippingZoneDefinition()
        zone.name = name
        zone.regions = regions
        return zone
    }
}
