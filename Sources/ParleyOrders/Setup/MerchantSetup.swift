import ParleyProtos

/// One merchant's set-up, compiled from its stored configuration and catalog
/// into the domain rules the controller runs: the catalog, shipping policy,
/// tax table, payment policy, coupon verifier, offers and fraud rules. Built
/// once when the configuration or catalog changes and kept in memory, so a
/// negotiation reads no table.
public struct MerchantSetup: Sendable {
    public let merchant: String
    public let currency: CurrencyCode
    public private(set) var catalog: Catalog
    public let shipping: ShippingPolicy
    public let tax: TaxTable
    public let payment: PaymentPolicy
    public let coupons: CouponVerifier
    public let suggestions: [ItemSuggestionRule]
    public let freeItems: [FreeItemOffer]
    public let fraudRules: [FraudRule]
    /// The key kinds whose quote-only or rejected requests some rule of
    /// `fraudRules` counts: only those are written to the fraud statistics
    /// snapshot (the rest could never change a decision after a restart).
    public let fraudSnapshotKinds: Set<FraudKeyKind>
    public let plugins: [String: PluginSettings]
    public let reserveOnQuote: Bool
    public let quoteSeconds: UInt32
    public let refusePOBoxes: Bool
    /// The configuration as applied (what GetConfiguration returns).
    public let configuration: Parley_V1_MerchantConfiguration

    /// How one built-in plug-in runs for this merchant.
    public struct PluginSettings: Sendable, Hashable {
        public var enabled: Bool
        public var timeoutMilliseconds: UInt32
        public var failOpen: Bool
    }

    /// The built-in plug-ins, by the name a configuration uses.
    public static let pluginNames: [String] = [
        "inventory", "volume_pricing", "special_offers", "coupon_holder",
        "po_box_refusal", "shipping_restrictions", "fraud_avoidance", "payment_per_item",
    ]

    /// Whether a built-in plug-in is on (every one is, unless configured off).
    public func isEnabled(_ plugin: String) -> Bool { plugins[plugin]?.enabled ?? true }

    /// The set-up of a merchant that has applied no configuration: its
    /// catalog's currency, the sample tax tables, no shipping methods, cards only.
    static func unconfigured(merchant: String, currency: CurrencyCode, items: [CatalogItem]) throws(OrdersError) -> MerchantSetup {
        var configuration = Parley_V1_MerchantConfiguration()
        configuration.merchant = merchant
        configuration.currency = currency.rawValue
        configuration.acceptedPaymentKinds = [.card]
        return try MerchantSetup(configuration: configuration, items: items)
    }

    /// Compiles and validates `configuration` with the merchant's catalog.
    /// Errors name the field (`configuration.shipping.rates[2].zone`).
    public init(configuration: Parley_V1_MerchantConfiguration, items: [CatalogItem]) throws(OrdersError) {
        let path = "configuration"
        let merchant = configuration.merchant
        let currency = try CurrencyCode.parse(configuration.currency, field: "\(path).currency")
        self.merchant = merchant
        self.currency = currency
        catalog = try Catalog(merchant: merchant, currency: currency, items: items)
        shipping = try Self.shippingPolicy(configuration.shipping, currency: currency, path: "\(path).shipping")
        tax = try Self.taxTable(configuration.tax, path: "\(path).tax")
        let kinds = try configuration.acceptedPaymentKinds.enumerated().map { index, kind throws(OrdersError) in
            try Self.paymentKind(kind, path: "\(path).accepted_payment_kinds[\(index)]")
        }
        guard !kinds.isEmpty else {
            throw .configuration("\(path).accepted_payment_kinds", "accept at least one payment kind")
        }
        payment = PaymentPolicy(acceptedKinds: kinds)
        var keys: [CouponIssuerKey] = []
        for (index, issuer) in configuration.couponIssuers.enumerated() {
            let field = "\(path).coupon_issuers[\(index)]"
            guard !issuer.issuer.isEmpty else { throw .configuration("\(field).issuer", "must not be empty") }
            do {
                keys.append(try CouponIssuerKey(issuer: issuer.issuer, publicKeyText: issuer.publicKey))
            } catch {
                throw .configuration("\(field).public_key", error.message)
            }
        }
        coupons = CouponVerifier(keys: keys)
        suggestions = configuration.suggestions.map {
            ItemSuggestionRule(id: $0.id, whenAllOf: Set($0.whenSkus), suggestedSKU: $0.suggestSku, message: $0.message.isEmpty ? nil : $0.message)
        }
        freeItems = configuration.freeItems.map {
            FreeItemOffer(
                id: $0.id,
                qualifyingSKU: $0.buySku,
                qualifyingQuantity: max(1, $0.minQuantity),
                freeSKU: $0.freeSku,
                freeQuantity: max(1, $0.freeQuantity),
                validUntilMilliseconds: $0.endsAtMs == 0 ? nil : $0.endsAtMs
            )
        }
        var fraudRules: [FraudRule] = []
        for (index, definition) in configuration.fraudRules.enumerated() {
            let rule = try Self.fraudRule(definition, currency: currency, path: "\(path).fraud_rules[\(index)]")
            do {
                try rule.validate(index: index, against: FraudStatistics.Limits.defaults)
            } catch {
                // The domain names the rule as rules[i]; the wire calls it fraud_rules[i].
                throw .configuration("\(path).fraud_" + (error.field ?? "rules[\(index)]"), error.message)
            }
            fraudRules.append(rule)
        }
        self.fraudRules = fraudRules
        self.fraudSnapshotKinds = Set(fraudRules.compactMap { rule -> FraudKeyKind? in
            guard case .velocity(let limit) = rule.kind, !limit.counting.isSubset(of: [.accepted]) else { return nil }
            return limit.keyKind
        })
        var plugins: [String: PluginSettings] = [:]
        for (index, plugin) in configuration.plugins.enumerated() {
            guard Self.pluginNames.contains(plugin.name) else {
                throw .configuration("\(path).plugins[\(index)].name", "unknown plug-in '\(plugin.name)'; known: \(Self.pluginNames.joined(separator: ", "))")
            }
            guard plugin.timeoutMs <= 10_000 else {
                throw .configuration("\(path).plugins[\(index)].timeout_ms", "at most 10000 ms")
            }
            plugins[plugin.name] = PluginSettings(
                enabled: plugin.enabled,
                timeoutMilliseconds: plugin.timeoutMs == 0 ? 50 : plugin.timeoutMs,
                failOpen: plugin.failOpen
            )
        }
        self.plugins = plugins
        reserveOnQuote = configuration.reserveOnQuote
        guard configuration.quoteSeconds <= 86_400 else {
            throw .configuration("\(path).quote_seconds", "at most 86400 seconds")
        }
        quoteSeconds = configuration.quoteSeconds == 0 ? 900 : configuration.quoteSeconds
        refusePOBoxes = configuration.refusePoBoxes
        self.configuration = configuration
    }

    /// The same configuration with `items` merged into its catalog (see
    /// ``Catalog/merging(_:)``; only the catalog depends on the items, so
    /// nothing else is compiled again).
    func mergingIntoCatalog(_ items: [CatalogItem]) throws(OrdersError) -> MerchantSetup {
        var setup = self
        setup.catalog = try catalog.merging(items)
        return setup
    }
}

extension MerchantSetup {
    static func paymentKind(_ kind: Parley_V1_PaymentKind, path: String) throws(OrdersError) -> PaymentKind {
        switch kind {
        case .card: .card
        case .giftCertificate: .giftCertificate
        case .prepaidAccount: .prepaidAccount
        case .purchaseOrder: .purchaseOrder
        default: throw .invalid(path, "a payment kind: CARD, GIFT_CERTIFICATE, PREPAID_ACCOUNT or PURCHASE_ORDER")
        }
    }

    static func money(_ money: Parley_V1_Money, currency: CurrencyCode, path: String) throws(OrdersError) -> Money {
        let code = money.currency.isEmpty ? currency : try CurrencyCode.parse(money.currency, field: "\(path).currency")
        guard code == currency else {
            throw OrdersError(code: .currencyMismatch, message: "\(code.rawValue) is not the merchant's currency \(currency.rawValue)", field: "\(path).currency")
        }
        return Money(minorUnits: money.minorUnits, currency: code)
    }

    static func region(_ region: Parley_V1_Region, path: String) throws(OrdersError) -> RegionSelector {
        guard region.country.count == 2 else { throw .configuration("\(path).country", "an ISO 3166-1 alpha-2 code such as US") }
        return RegionSelector(country: region.country.uppercased(), region: region.region.isEmpty ? nil : region.region.uppercased())
    }

    static func shippingPolicy(_ shipping: Parley_V1_ShippingConfiguration, currency: CurrencyCode, path: String) throws(OrdersError) -> ShippingPolicy {
        var services: [ShippingService] = []
        for (index, service) in shipping.services.enumerated() {
            let field = "\(path).services[\(index)]"
            guard !service.shipper.isEmpty else { throw .configuration("\(field).shipper", "must not be empty") }
            guard !service.service.isEmpty else { throw .configuration("\(field).service", "must not be empty") }
            guard let mode = TransportMode(rawValue: service.mode.isEmpty ? "ground" : service.mode) else {
                throw .configuration("\(field).mode", "ground or air")
            }
            let method = ShippingMethod(shipper: service.shipper, service: service.service)
            services.append(ShippingService(method: method, mode: mode, displayName: service.displayName.isEmpty ? method.id : service.displayName))
        }
        var zones: [ShippingZone] = []
        for (index, zone) in shipping.zones.enumerated() {
            let regions = try zone.regions.enumerated().map { regionIndex, region throws(OrdersError) in
                try Self.region(region, path: "\(path).zones[\(index)].regions[\(regionIndex)]")
            }
            zones.append(ShippingZone(name: zone.name, regions: regions))
        }
        var rates: [ShippingRate] = []
        for (index, rate) in shipping.rates.enumerated() {
            let brackets = try rate.brackets.enumerated().map { bracketIndex, bracket throws(OrdersError) in
                WeightBracket(
                    maximumGrams: bracket.maxGrams,
                    price: try Self.money(bracket.price, currency: currency, path: "\(path).rates[\(index)].brackets[\(bracketIndex)].price")
                )
            }
            rates.append(ShippingRate(method: ShippingMethod(shipper: rate.shipper, service: rate.service), zone: rate.zone, brackets: brackets))
        }
        let table = ShippingRateTable(currency: currency, services: services, zones: zones, rates: rates)
        do {
            try table.validate()
        } catch {
            throw .configuration(error.field.map { "\(path).\($0)" } ?? path, error.message)
        }
        var availability: [ShipperAvailability] = []
        for (index, entry) in shipping.availability.enumerated() {
            let field = "\(path).availability[\(index)]"
            let regions = try entry.regions.enumerated().map { regionIndex, region throws(OrdersError) in
                try Self.region(region, path: "\(field).regions[\(regionIndex)]")
            }
            var weekdays = Set<Weekday>()
            for (dayIndex, day) in entry.weekdays.enumerated() {
                guard let weekday = Self.weekday(day) else { throw .configuration("\(field).weekdays[\(dayIndex)]", "MONDAY … SUNDAY") }
                weekdays.insert(weekday)
            }
            availability.append(
                ShipperAvailability(
                    shipper: entry.shipper,
                    services: entry.services.isEmpty ? nil : Set(entry.services),
                    regions: regions,
                    weekdays: weekdays.isEmpty ? Weekday.workdays : weekdays,
                    hazmatAllowed: entry.hazmatAllowed,
                    saturdaySurcharge: entry.hasSaturdaySurcharge
                        ? try Self.money(entry.saturdaySurcharge, currency: currency, path: "\(field).saturday_surcharge") : nil
                )
            )
        }
        var restrictions = ShippingRestrictions()
        if shipping.hasRestrictions {
            let rules = shipping.restrictions
            let field = "\(path).restrictions"
            restrictions = ShippingRestrictions(
                remoteRegions: rules.remoteRegions.isEmpty
                    ? ShippingRestrictions.defaultRemoteRegions
                    : try rules.remoteRegions.enumerated().map { index, region throws(OrdersError) in
                        try Self.region(region, path: "\(field).remote_regions[\(index)]")
                    },
                remoteSurcharge: rules.hasRemoteSurcharge ? try Self.money(rules.remoteSurcharge, currency: currency, path: "\(field).remote_surcharge") : nil,
                saturdayToRemoteRegions: rules.saturdayToRemoteRegions,
                hazmatByAir: rules.hazmatByAir,
                forbiddenHazmatClasses: rules.forbiddenHazmatClasses.isEmpty
                    ? [.explosives] : Set(rules.forbiddenHazmatClasses.map { HazmatClass(rawValue: $0) })
            )
        }
        return ShippingPolicy(rates: table, availability: availability, restrictions: restrictions)
    }

    static func weekday(_ day: Parley_V1_WeekdayName) -> Weekday? {
        switch day {
        case .monday: .monday
        case .tuesday: .tuesday
        case .wednesday: .wednesday
        case .thursday: .thursday
        case .friday: .friday
        case .saturday: .saturday
        case .sunday: .sunday
        default: nil
        }
    }

    /// Jurisdictions: `GB` (a country), `US-CA` (a state or province),
    /// `US-CA-941` (a postal-code prefix, whose rules replace the region's).
    static func taxTable(_ tax: Parley_V1_TaxConfiguration, path: String) throws(OrdersError) -> TaxTable {
        guard !tax.rules.isEmpty else { return TaxTable.sample }
        var table = TaxTable()
        for (index, definition) in tax.rules.enumerated() {
            let field = "\(path).rules[\(index)]"
            let shipping: ShippingTaxTreatment
            switch definition.shipping {
            case "", "not_taxed": shipping = .notTaxed
            case "standard": shipping = .taxedAtStandardRate
            case "follows_goods": shipping = .followsGoods
            default: throw .configuration("\(field).shipping", "not_taxed, standard or follows_goods")
            }
            guard (0...1_000_000).contains(definition.standardRatePpm) else {
                throw .configuration("\(field).standard_rate_ppm", "0 to 1000000 (parts per million)")
            }
            var categoryRates: [TaxCategory: Rate] = [:]
            for (category, rate) in definition.categoryRatesPpm {
                guard (0...1_000_000).contains(rate) else {
                    throw .configuration("\(field).category_rates_ppm[\(category)]", "0 to 1000000 (parts per million)")
                }
                categoryRates[TaxCategory(rawValue: category)] = Rate(partsPerMillion: rate)
            }
            let rule = TaxRule(
                jurisdiction: definition.jurisdiction,
                name: definition.name.isEmpty ? definition.jurisdiction : definition.name,
                standardRate: Rate(partsPerMillion: definition.standardRatePpm),
                categoryRates: categoryRates,
                exemptCategories: definition.exemptCategories.isEmpty ? [.exempt] : Set(definition.exemptCategories.map { TaxCategory(rawValue: $0) }),
                shipping: shipping
            )
            let parts = definition.jurisdiction.uppercased().split(separator: "-", maxSplits: 2).map(String.init)
            guard let country = parts.first, country.count == 2 else {
                throw .configuration("\(field).jurisdiction", "COUNTRY, COUNTRY-REGION or COUNTRY-REGION-POSTALPREFIX (e.g. GB, US-CA, US-CA-941)")
            }
            switch parts.count {
            case 1: table.countries[country, default: []].append(rule)
            case 2: table.regions["\(country)-\(parts[1])", default: []].append(rule)
            default: table.postalOverrides[country, default: [:]][parts[2].filter { $0 != " " }, default: []].append(rule)
            }
        }
        return table
    }

    static func fraudRule(_ definition: Parley_V1_FraudRuleDefinition, currency: CurrencyCode, path: String) throws(OrdersError) -> FraudRule {
        guard !definition.id.isEmpty else { throw .configuration("\(path).id", "must not be empty") }
        let action: FraudAction
        switch definition.action {
        case "", "reject": action = .reject
        case "flag": action = .flag
        default: throw .configuration("\(path).action", "reject or flag")
        }
        switch definition.kind {
        case "item_class_permission":
            guard !definition.itemClass.isEmpty else { throw .configuration("\(path).item_class", "must not be empty") }
            return FraudRule(
                id: definition.id,
                kind: .itemClassPermission(itemClass: definition.itemClass, allowedBuyerClasses: Set(definition.allowedBuyerClasses)),
                action: action
            )
        case "velocity":
            let keys: [String: FraudKeyKind] = [
                "buyer": .buyer, "card_fingerprint": .cardFingerprint, "email": .email, "ip_address": .ipAddress,
                "postal_code": .postalCode, "item": .item, "item_class": .itemClass,
            ]
            guard let key = keys[definition.key] else {
                throw .configuration("\(path).key", "one of \(keys.keys.sorted().joined(separator: ", "))")
            }
            let measure: FraudMeasure
            switch definition.measure {
            case "", "orders": measure = .orders(max: definition.limit)
            case "units": measure = .units(max: definition.limit)
            case "amount": measure = .amount(max: Money(minorUnits: definition.limit, currency: currency))
            default: throw .configuration("\(path).measure", "orders, units or amount")
            }
            var counting = Set<FraudOutcome>()
            for (index, outcome) in definition.countedOutcomes.enumerated() {
                switch outcome {
                case "accepted": counting.insert(.accepted)
                case "rejected": counting.insert(.rejected)
                case "quote_only": counting.insert(.quoteOnly)
                default: throw .configuration("\(path).counted_outcomes[\(index)]", "accepted, rejected or quote_only")
                }
            }
            return FraudRule(
                id: definition.id,
                kind: .velocity(
                    VelocityLimit(
                        keyKind: key,
                        windowMilliseconds: definition.windowMs,
                        measure: measure,
                        counting: counting.isEmpty ? [.accepted] : counting,
                        buyerClasses: definition.buyerClasses.isEmpty ? nil : Set(definition.buyerClasses),
                        itemClasses: definition.itemClasses.isEmpty ? nil : Set(definition.itemClasses)
                    )
                ),
                action: action
            )
        default:
            throw .configuration("\(path).kind", "item_class_permission or velocity")
        }
    }
}
