import ParleyProtos

extension CatalogItem {
    /// A catalog item from the wire, validated; errors name `path`'s fields.
    init(wire: Parley_V1_CatalogItem, currency: CurrencyCode, path: String) throws(OrdersError) {
        guard wire.hasUnitPrice else { throw .invalid("\(path).unit_price", "required") }
        guard wire.maxQuantityPerOrder >= 0 else { throw .invalid("\(path).max_quantity_per_order", "0 (no limit) or more") }
        let unitPrice = try MerchantSetup.money(wire.unitPrice, currency: currency, path: "\(path).unit_price")
        let tiers = try wire.priceTiers.enumerated().map { index, tier throws(OrdersError) in
            VolumePriceTier(
                minimumQuantity: tier.minQuantity,
                unitPrice: try MerchantSetup.money(tier.unitPrice, currency: currency, path: "\(path).price_tiers[\(index)].unit_price")
            )
        }
        var kinds = Set<PaymentKind>()
        for (index, kind) in wire.paymentKinds.enumerated() {
            kinds.insert(try MerchantSetup.paymentKind(kind, path: "\(path).payment_kinds[\(index)]"))
        }
        self.init(
            sku: wire.sku,
            title: wire.title,
            itemClass: wire.itemClass,
            unitPrice: unitPrice,
            priceTiers: tiers,
            perOrderQuantityLimit: wire.maxQuantityPerOrder == 0 ? nil : wire.maxQuantityPerOrder,
            weightGrams: wire.weightGrams,
            hazmatClass: wire.hazmatClass.isEmpty ? nil : HazmatClass(rawValue: wire.hazmatClass),
            allowedPaymentKinds: kinds,
            taxCategory: wire.taxCategory.isEmpty ? .general : TaxCategory(rawValue: wire.taxCategory)
        )
        try validate(path: path)
    }

    /// The wire form.
    var wire: Parley_V1_CatalogItem {
        var wire = Parley_V1_CatalogItem()
        wire.sku = sku
        wire.title = title
        wire.itemClass = itemClass
        wire.unitPrice = unitPrice.wire
        wire.priceTiers = priceTiers.map { tier in
            var wireTier = Parley_V1_PriceTier()
            wireTier.minQuantity = tier.minimumQuantity
            wireTier.unitPrice = tier.unitPrice.wire
            return wireTier
        }
        wire.maxQuantityPerOrder = perOrderQuantityLimit ?? 0
        wire.weightGrams = weightGrams
        wire.hazmatClass = hazmatClass?.rawValue ?? ""
        wire.paymentKinds = allowedPaymentKinds.map(\.wire).sorted { $0.rawValue < $1.rawValue }
        wire.taxCategory = taxCategory.rawValue
        return wire
    }
}

extension Money {
    var wire: Parley_V1_Money {
        var wire = Parley_V1_Money()
        wire.minorUnits = minorUnits
        wire.currency = currency.rawValue
        return wire
    }
}

extension PaymentKind {
    var wire: Parley_V1_PaymentKind {
        switch self {
        case .card: .card
        case .giftCertificate: .giftCertificate
        case .prepaidAccount: .prepaidAccount
        case .purchaseOrder: .purchaseOrder
        default: .unspecified
        }
    }
}
