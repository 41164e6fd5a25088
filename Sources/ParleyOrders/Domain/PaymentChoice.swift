/// A payment instrument offered by the client, without any card number.
public struct PaymentInstrument: Sendable, Hashable {
    /// Its kind.
    public var kind: PaymentKind
    /// What identifies it to its processor: a card token, a gift certificate
    /// serial, a prepaid account id, a purchase order number.
    public var reference: String
    /// For cards: fingerprint, last four digits, brand.
    public var card: CardSummary?
    /// For gift certificates and prepaid accounts: what is left on it, if known.
    public var availableBalance: Money?

    /// Creates an instrument.
    public init(kind: PaymentKind, reference: String, card: CardSummary? = nil, availableBalance: Money? = nil) {
        self.kind = kind
        self.reference = reference
        self.card = card
        self.availableBalance = availableBalance
    }
}

/// The merchant's payment set-up.
public struct PaymentPolicy: Sendable, Hashable {
    /// The kinds accepted, the merchant's most preferred first.
    public var acceptedKinds: [PaymentKind]
    /// The least order total per kind (purchase orders only above some amount), if any.
    public var minimumAmount: [PaymentKind: Money]
    /// The greatest order total per kind, if any.
    public var maximumAmount: [PaymentKind: Money]

    /// Creates a policy.
    public init(acceptedKinds: [PaymentKind], minimumAmount: [PaymentKind: Money] = [:], maximumAmount: [PaymentKind: Money] = [:]) {
        self.acceptedKinds = acceptedKinds
        self.minimumAmount = minimumAmount
        self.maximumAmount = maximumAmount
    }
}

/// Why one of the client's instruments cannot pay.
public struct InstrumentRefusal: Sendable, Hashable {
    /// The instrument's index in the request.
    public var index: Int
    /// `PAYMENT_KIND_NOT_ACCEPTED` or `PAYMENT_INSUFFICIENT`.
    public var code: Amendment.Code
    /// The reason for people.
    public var message: String

    /// Creates a refusal.
    public init(index: Int, code: Amendment.Code, message: String) {
        self.index = index
        self.code = code
        self.message = message
    }
}

/// The payment check's outcome.
public struct PaymentDecision: Sendable, Hashable {
    /// The index of the chosen instrument in the request, if any can pay.
    public var chosenIndex: Int?
    /// The chosen instrument.
    public var chosen: PaymentInstrument?
    /// The kinds acceptable for these items and this amount, in the merchant's order.
    public var acceptableKinds: [PaymentKind]
    /// Why the other instruments were not chosen, where they could not pay.
    public var refusals: [InstrumentRefusal]
    /// A blocking amendment when nothing can pay, with its menu.
    public var amendments: [Amendment]
}

/// The payment check: choose the instrument the merchant prefers among those
/// acceptable for these items and this amount.
public enum PaymentChoice {
    /// Chooses how the order is paid.
    ///
    /// A kind is acceptable when the merchant accepts it and every line's item
    /// allows it (an item with no allowed kinds allows all). An instrument can pay
    /// when its kind is acceptable, `amount` is within the merchant's per-kind
    /// minimum and maximum, and its known balance (if any) covers `amount`. Among
    /// the instruments that can pay, the one of the merchant's most preferred kind
    /// is chosen; between two of the same kind, the client's earlier one.
    ///
    /// When none can pay, one blocking amendment at `path` (`payment_instruments`)
    /// offers each acceptable kind (in the merchant's order, price difference zero)
    /// and, for lines that forbid a kind the client offered, removing that line
    /// (price difference: minus its total).
    public static func choose(
        instruments: [PaymentInstrument],
        lines: [PricedLine],
        amount: Money,
        policy: PaymentPolicy,
        path: String = "payment_instruments"
    ) -> PaymentDecision {
        let acceptable = policy.acceptedKinds.uniqued().filter { kind in
            lines.allSatisfy { $0.item.allows(kind) } && withinLimits(kind, amount, policy)
        }
        var refusals = [InstrumentRefusal]()
        var usable = [Int]()
        for (index, instrument) in instruments.enumerated() {
            let kind = instrument.kind
            if !policy.acceptedKinds.contains(kind) {
                refusals.append(InstrumentRefusal(index: index, code: .paymentKindNotAccepted, message: "this merchant does not accept \(kind.displayName)"))
            } else if let line = lines.first(where: { !$0.item.allows(kind) }) {
                refusals.append(InstrumentRefusal(index: index, code: .paymentKindNotAccepted, message: "\(line.path) (\(line.item.sku)) cannot be paid by \(kind.displayName)"))
            } else if !withinLimits(kind, amount, policy) {
                refusals.append(InstrumentRefusal(index: index, code: .paymentKindNotAccepted, message: "\(kind.displayName) is not accepted for an order of \(amount)"))
            } else if let balance = instrument.availableBalance, balance.currency != amount.currency || balance.minorUnits < amount.minorUnits {
                refusals.append(InstrumentRefusal(index: index, code: .paymentInsufficient, message: "the \(kind.displayName) holds \(balance), less than \(amount)"))
            } else {
                usable.append(index)
            }
        }

        for kind in acceptable {
            if let index = usable.first(where: { instruments[$0].kind == kind }) {
                return PaymentDecision(chosenIndex: index, chosen: instruments[index], acceptableKinds: acceptable, refusals: refusals, amendments: [])
            }
        }

        var menu = acceptable.map { kind in
            Amendment.Alternative(
                description: "pay by \(kind.displayName)",
                replacements: [.init(path: "\(path)[0].kind", value: .text(kind.rawValue))],
                priceDifference: .zero(amount.currency)
            )
        }
        for kind in instruments.map(\.kind).uniqued() where policy.acceptedKinds.contains(kind) {
            let blocking = lines.filter { !$0.item.allows(kind) }
            guard !blocking.isEmpty, blocking.count < lines.count else { continue }
            let saving = blocking.reduce(Int64(0)) { $0 &+ $1.lineTotal.minorUnits }
            menu.append(Amendment.Alternative(
                description: "remove \(blocking.map { $0.item.sku }.joined(separator: ", ")) to pay by \(kind.displayName)",
                replacements: blocking.map { .init(path: $0.path, value: .remove) },
                priceDifference: Money(minorUnits: -saving, currency: amount.currency)
            ))
        }
        let insufficientOnly = !refusals.isEmpty && refusals.allSatisfy { $0.code == .paymentInsufficient }
        let message = instruments.isEmpty
            ? "no payment instrument was given"
            : refusals.map(\.message).uniqued().joined(separator: "; ")
        let amendment = Amendment(
            path: path,
            code: insufficientOnly ? .paymentInsufficient : .paymentKindNotAccepted,
            message: message,
            alternatives: Amendment.ranked(menu)
        )
        return PaymentDecision(chosenIndex: nil, chosen: nil, acceptableKinds: acceptable, refusals: refusals, amendments: [amendment])
    }

    private static func withinLimits(_ kind: PaymentKind, _ amount: Money, _ policy: PaymentPolicy) -> Bool {
        if let minimum = policy.minimumAmount[kind], minimum.currency == amount.currency, amount.minorUnits < minimum.minorUnits { return false }
        if let maximum = policy.maximumAmount[kind], maximum.currency == amount.currency, amount.minorUnits > maximum.minorUnits { return false }
        return true
    }
}
