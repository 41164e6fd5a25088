import Crypto
import ParleyProtos
import ParleyWarehouse

/// The order acceptance controller (seed 002, FIG. 2): the fixed steps —
/// item check, coupons, address check, shipping, tax, payment check — run
/// over one merchant's compiled set-up, producing the order as the merchant
/// would accept it and the amendments, each with its menu of alternatives.
///
/// The steps are pure: they read only the request, the set-up and the time.
/// Plug-ins are called out to after the item check and after the payment
/// check (``CallOutPoint``); they may read state (stock, fraud statistics).
/// Negotiate never writes an order or charges anything.
/// Malformed input (what no amendment could fix: a missing order id, a
/// negative quantity, an unknown SKU, a card number that is not one, another
/// currency) throws an ``OrdersError`` naming the field.
struct OrderAcceptanceController {
    let setup: MerchantSetup
    let now: Int64
    /// The server's key for card fingerprints (a keyed hash, never the number).
    let cardKey: SymmetricKey

    /// The most lines, shipping methods, instruments and coupons in one request.
    static let maxLines = 100
    static let maxChoices = 10

    /// The evaluation: the response, and what Capture needs beyond it.
    struct Acceptance: Sendable {
        var response: Parley_V1_OrderAcceptanceResponse
        /// Stock-tracked lines to hold (from the inventory plug-in).
        var holds: [ReservationLineRequest]
        /// The chosen instrument and its index in the request.
        var payment: PaymentInstrument?
        var paymentIndex: Int?
        var total: Money
        /// The facts fraud statistics record (nil without a total).
        var fraudSubject: FraudSubject?
        var plugins: PluginContext
    }

    /// Evaluates `request` for `agent`, calling out to `plugins`.
    func evaluate(
        _ request: Parley_V1_OrderAcceptanceRequest,
        agent: String,
        plugins: PluginRunner,
        isCapture: Bool,
        quotedHolds: [ReservationLineRequest] = [],
        stockMayBeLastSeen: Bool = false
    ) async throws(OrdersError) -> Acceptance {
        try validate(request)
        let currency = setup.currency
        var amendments: [Amendment] = []

        // 1. Item check: catalog, price × quantity, tiers, limits.
        let lines = request.lines.map { line in
            OrderLineRequest(
                sku: line.sku,
                quantity: line.quantity,
                expectedUnitPrice: line.hasExpectedUnitPrice ? Money(minorUnits: line.expectedUnitPrice.minorUnits, currency: currency) : nil
            )
        }
        let items = ItemCheck.run(lines: lines, catalog: setup.catalog)
        amendments += items.amendments
        let priced = items.lines
        var context = PluginContext(
            agent: agent, setup: setup, request: request, lines: priced, total: nil, payment: nil,
            now: now, isCapture: isCapture, quotedHolds: quotedHolds, stockMayBeLastSeen: stockMayBeLastSeen
        )
        let afterItems = await plugins.run(.afterItemCheck, context)
        amendments += afterItems.amendments

        // Special offers: free items and "buy C too?" suggestions.
        var freeGrants: [FreeItemGrant] = []
        if setup.isEnabled("special_offers") {
            let free = SpecialOffers.freeItems(for: priced, offers: setup.freeItems, catalog: setup.catalog, now: now)
            freeGrants = free.grants
            amendments += free.amendments
            amendments += SpecialOffers.suggestions(for: priced, requestLineCount: lines.count, rules: setup.suggestions, catalog: setup.catalog)
        }

        // 2. Coupons: signature, expiry, scope, holder; single use is checked
        //    against redemptions at capture.
        let coupons = setup.coupons.verifyAll(
            request.coupons,
            order: CouponOrderContext(
                merchant: setup.merchant,
                buyerID: request.buyer.id.isEmpty ? nil : request.buyer.id,
                buyerEmail: request.buyer.email.isEmpty ? nil : request.buyer.email,
                lines: priced
            ),
            now: now,
            isRedeemed: { _ in false }
        )
        amendments += coupons.amendments

        // 3. Address check: format by country, postal code against region.
        let refusePOBoxes = setup.refusePOBoxes && setup.isEnabled("po_box_refusal")
        let billing = AddressCheck.check(Self.address(request.billingAddress), path: "billing_address", currency: currency)
        let shippingAddress = AddressCheck.check(
            Self.address(request.shippingAddress),
            path: "shipping_address",
            refusePOBoxes: refusePOBoxes,
            currency: currency
        )
        amendments += billing.amendments + shippingAddress.amendments

        // 4. Shipping: rates of the acceptable methods and restriction rules.
        let delivery = try Self.deliveryMilliseconds(request.requestedDeliveryDate)
        let shipping = setup.shipping.quote(
            ShipmentRequest(
                items: priced.map(ShipmentItem.init),
                destination: shippingAddress.normalized,
                requestedDeliveryMilliseconds: delivery,
                acceptableMethods: request.shippingMethods.map { ShippingMethod(shipper: $0.shipper, service: $0.service) }
            )
        )
        amendments += shipping.amendments(methodsPath: "shipping_methods", deliveryPath: "requested_delivery_date")
        let shippingPrice = shipping.chosen?.charge.total ?? .zero(currency)

        // 5. Tax, on the lines after their discounts, and on shipping where due.
        var lineDiscounts = [Int64](repeating: 0, count: priced.count)
        for coupon in coupons.accepted {
            for discount in coupon.lineDiscounts where discount.lineIndex < lineDiscounts.count {
                lineDiscounts[discount.lineIndex] += discount.amount.minorUnits
            }
        }
        let taxable = priced.enumerated().map { index, line in
            TaxableItem(
                path: line.path,
                category: line.item.taxCategory,
                amount: Money(minorUnits: line.lineTotal.minorUnits - lineDiscounts[index], currency: currency)
            )
        }
        let tax = try setup.tax.calculate(items: taxable, shipping: shippingPrice, destination: shippingAddress.normalized)

        // 6. Payment check: the merchant's most preferred acceptable instrument.
        let total = Money(
            minorUnits: items.subtotal.minorUnits - coupons.totalDiscount.minorUnits + shippingPrice.minorUnits + tax.total.minorUnits,
            currency: currency
        )
        let instruments = try request.payments.enumerated().map { index, payment throws(OrdersError) in
            try instrument(payment, path: "payments[\(index)]")
        }
        let payment = PaymentChoice.choose(
            instruments: instruments,
            lines: setup.isEnabled("payment_per_item") ? priced : priced.map(Self.anyKind),
            amount: total,
            policy: setup.payment,
            path: "payments"
        )
        amendments += payment.amendments
        context.total = total
        context.payment = payment.chosen
        let afterPayment = await plugins.run(.afterPaymentCheck, context)
        amendments += afterPayment.amendments

        // The response: the order as amended, and the verdict.
        var response = Parley_V1_OrderAcceptanceResponse()
        response.orderID = request.orderID
        var order = Parley_V1_AmendedOrder()
        order.lines = priced.enumerated().map { index, line in
            var wire = Parley_V1_PricedLine()
            wire.sku = line.item.sku
            wire.title = line.item.title
            wire.quantity = line.quantity
            wire.unitPrice = line.unitPrice.wire
            wire.lineTotal = line.lineTotal.wire
            wire.discount = Money(minorUnits: -lineDiscounts[index], currency: currency).wire
            return wire
        }
        order.lines += freeGrants.map { grant in
            var wire = Parley_V1_PricedLine()
            wire.sku = grant.item.sku
            wire.title = grant.item.title
            wire.quantity = grant.quantity
            wire.unitPrice = Money.zero(currency).wire
            wire.lineTotal = Money.zero(currency).wire
            wire.discount = Money.zero(currency).wire
            wire.free = true
            return wire
        }
        order.subtotal = items.subtotal.wire
        order.discount = Money(minorUnits: -coupons.totalDiscount.minorUnits, currency: currency).wire
        if let chosen = shipping.chosen { order.shipping = Self.offer(chosen) }
        order.tax = tax.lines.map { line in
            var wire = Parley_V1_TaxLine()
            wire.jurisdiction = line.jurisdiction
            wire.name = line.name
            wire.ratePpm = line.rate.partsPerMillion
            wire.taxable = line.taxableAmount.wire
            wire.tax = line.tax.wire
            return wire
        }
        order.taxTotal = tax.total.wire
        order.total = total.wire
        if let chosen = payment.chosen {
            order.paymentKind = chosen.kind.wire
            order.paymentReference = chosen.reference
        }
        order.couponsApplied = coupons.accepted.map(\.coupon.serial)
        response.order = order
        response.shippingOptions = shipping.available.map(Self.offer)
        response.shippingExplanation = shipping.explanation
        response.amendments = amendments.map(Self.wire)
        response.status = Self.status(response.amendments)
        return Acceptance(
            response: response,
            holds: afterItems.holds + afterPayment.holds,
            payment: payment.chosen,
            paymentIndex: payment.chosenIndex,
            total: total,
            fraudSubject: FraudSubject(context),
            plugins: context
        )
    }

    /// ACCEPTABLE with no blocking amendment; REJECTED when a blocking one
    /// offers no way forward; AMENDMENTS otherwise.
    static func status(_ amendments: [Parley_V1_Amendment]) -> Parley_V1_AcceptanceStatus {
        let blocking = amendments.filter(\.blocking)
        if blocking.isEmpty { return .acceptable }
        return blocking.contains { $0.alternatives.isEmpty } ? .rejected : .amendments
    }

    // MARK: Input

    private func validate(_ request: Parley_V1_OrderAcceptanceRequest) throws(OrdersError) {
        try Orders.validateName(request.orderID, field: "order_id")
        guard !request.lines.isEmpty else { throw .invalid("lines", "at least one line") }
        guard request.lines.count <= Self.maxLines else { throw .invalid("lines", "at most \(Self.maxLines) lines") }
        for (index, line) in request.lines.enumerated() {
            guard !line.sku.isEmpty else { throw .invalid("lines[\(index)].sku", "must not be empty") }
            guard setup.catalog.item(sku: line.sku) != nil else {
                throw .invalid("lines[\(index)].sku", "unknown SKU '\(line.sku)' of merchant '\(setup.merchant)'")
            }
            guard line.quantity > 0 else { throw .invalid("lines[\(index)].quantity", "must be positive") }
            guard line.quantity <= 1_000_000 else { throw .invalid("lines[\(index)].quantity", "at most 1000000") }
            if line.hasExpectedUnitPrice, !line.expectedUnitPrice.currency.isEmpty, line.expectedUnitPrice.currency != setup.currency.rawValue {
                throw OrdersError(
                    code: .invalidArgument,
                    message: "\(line.expectedUnitPrice.currency) is not the merchant's currency \(setup.currency.rawValue)",
                    field: "lines[\(index)].expected_unit_price.currency"
                )
            }
        }
        if !request.currency.isEmpty, request.currency != setup.currency.rawValue {
            throw .invalid("currency", "the merchant sells in \(setup.currency.rawValue), not \(request.currency)")
        }
        guard request.shippingMethods.count <= Self.maxChoices else { throw .invalid("shipping_methods", "at most \(Self.maxChoices)") }
        guard request.payments.count <= Self.maxChoices else { throw .invalid("payments", "at most \(Self.maxChoices)") }
        guard request.coupons.count <= Self.maxChoices else { throw .invalid("coupons", "at most \(Self.maxChoices)") }
        guard !request.payments.isEmpty else { throw .invalid("payments", "at least one payment instrument") }
        guard !request.shippingMethods.isEmpty else { throw .invalid("shipping_methods", "at least one acceptable shipping method") }
        guard request.hasShippingAddress else { throw .invalid("shipping_address", "required") }
        guard request.hasBillingAddress else { throw .invalid("billing_address", "required") }
    }

    private func instrument(_ payment: Parley_V1_PaymentInstrumentRequest, path: String) throws(OrdersError) -> PaymentInstrument {
        let kind = try MerchantSetup.paymentKind(payment.kind, path: "\(path).kind")
        if kind == .card {
            let card = try CardNumber(validating: payment.cardNumber, field: "\(path).card_number")
            let summary = card.summary(key: cardKey)
            return PaymentInstrument(kind: .card, reference: "\(summary.brand.rawValue) ••••\(summary.lastFour)", card: summary)
        }
        guard !payment.reference.isEmpty else { throw .invalid("\(path).reference", "required for \(kind.rawValue)") }
        guard payment.reference.utf8.count <= 64 else { throw .invalid("\(path).reference", "at most 64 bytes") }
        return PaymentInstrument(kind: kind, reference: payment.reference)
    }

    /// `YYYY-MM-DD` (UTC) as the Unix milliseconds of its noon, or nil when empty.
    static func deliveryMilliseconds(_ date: String) throws(OrdersError) -> Int64? {
        guard !date.isEmpty else { return nil }
        let parts = date.split(separator: "-").map { Int($0) }
        guard parts.count == 3, let year = parts[0], let month = parts[1], let day = parts[2],
            (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day)
        else { throw .invalid("requested_delivery_date", "a date as YYYY-MM-DD") }
        // Days from the civil date (Howard Hinnant's algorithm), UTC.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let milliseconds = Int64(days) * 86_400_000 + 12 * 3_600_000
        guard Weekday.isoDate(unixMilliseconds: milliseconds) == date else {
            throw .invalid("requested_delivery_date", "no such date: \(date)")
        }
        return milliseconds
    }

    static func address(_ wire: Parley_V1_Address) -> PostalAddress {
        PostalAddress(
            name: wire.name,
            lines: [wire.line1, wire.line2].filter { !$0.isEmpty },
            city: wire.city,
            region: wire.region,
            postalCode: wire.postalCode,
            country: wire.country
        )
    }

    /// A line whose item allows any kind (when the payment-per-item plug-in is off).
    static func anyKind(_ line: PricedLine) -> PricedLine {
        var line = line
        line.item.allowedPaymentKinds = []
        return line
    }

    static func offer(_ option: ShippingOption) -> Parley_V1_ShippingOffer {
        var wire = Parley_V1_ShippingOffer()
        wire.shipper = option.method.shipper
        wire.service = option.method.service
        wire.description_p = option.description
        wire.price = option.charge.total.wire
        wire.priceDifference = option.priceDifference.wire
        return wire
    }

    static func wire(_ amendment: Amendment) -> Parley_V1_Amendment {
        var wire = Parley_V1_Amendment()
        wire.path = amendment.path
        wire.code = amendment.code.rawValue
        wire.message = amendment.message
        wire.blocking = amendment.isBlocking
        wire.alternatives = amendment.alternatives.map { alternative in
            var wireAlternative = Parley_V1_Alternative()
            wireAlternative.description_p = alternative.description
            wireAlternative.priceDifference = alternative.priceDifference.wire
            wireAlternative.replacements = alternative.replacements.map { replacement in
                var wireReplacement = Parley_V1_Replacement()
                wireReplacement.path = replacement.path
                switch replacement.value {
                case .remove: wireReplacement.remove = true
                default: wireReplacement.value = replacement.value.description
                }
                return wireReplacement
            }
            return wireAlternative
        }
        return wire
    }
}
