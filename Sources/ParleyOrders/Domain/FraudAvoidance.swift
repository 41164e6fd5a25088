/// One line as fraud avoidance sees it.
public struct FraudLine: Sendable, Hashable {
    /// The line's request path (`lines[0]`).
    public var path: String
    /// The SKU.
    public var sku: String
    /// The item class.
    public var itemClass: String
    /// Units.
    public var quantity: Int64
    /// The line's amount.
    public var amount: Money

    /// Creates a line.
    public init(path: String, sku: String, itemClass: String, quantity: Int64, amount: Money) {
        self.path = path
        self.sku = sku
        self.itemClass = itemClass
        self.quantity = quantity
        self.amount = amount
    }

    /// The fraud line of a priced line.
    public init(_ line: PricedLine) {
        self.init(path: line.path, sku: line.item.sku, itemClass: line.item.itemClass, quantity: line.quantity, amount: line.lineTotal)
    }
}

/// The facts of one order acceptance request that fraud rules look at.
public struct FraudSubject: Sendable, Hashable {
    /// The buyer's id.
    public var buyerID: String?
    /// The buyer's class (`consumer`, `minor`, `verified-business`), seller-authenticated.
    public var buyerClass: String?
    /// The buyer's e-mail address.
    public var email: String?
    /// The client's network address.
    public var ipAddress: String?
    /// The fingerprint of the card chosen (see ``CardNumber/fingerprint(key:)``).
    public var cardFingerprint: String?
    /// The delivery postal code.
    public var postalCode: String?
    /// The lines.
    public var lines: [FraudLine]
    /// The order total.
    public var total: Money

    /// Creates a subject.
    public init(
        buyerID: String? = nil,
        buyerClass: String? = nil,
        email: String? = nil,
        ipAddress: String? = nil,
        cardFingerprint: String? = nil,
        postalCode: String? = nil,
        lines: [FraudLine],
        total: Money
    ) {
        self.buyerID = buyerID
        self.buyerClass = buyerClass
        self.email = email
        self.ipAddress = ipAddress
        self.cardFingerprint = cardFingerprint
        self.postalCode = postalCode
        self.lines = lines
        self.total = total
    }

    /// What this request adds to one key's statistics.
    public struct Contribution: Sendable, Hashable {
        /// The key.
        public var key: FraudKey
        /// Units: all of the order's for order-level keys, the SKU's or class's for item keys.
        public var units: Int64
        /// Money: the order total for order-level keys, the lines' amounts for item keys.
        public var amount: Money
        /// Where in the request the key comes from.
        public var path: String
    }

    /// One contribution per key present: buyer, card fingerprint, e-mail, IP address,
    /// postal code (each with the whole order), then each distinct SKU and item class
    /// (with their lines' units and amounts), in line order.
    public var contributions: [Contribution] {
        let units = lines.reduce(Int64(0)) { $0 &+ $1.quantity }
        var result = [Contribution]()
        result.reserveCapacity(5 + 2 * lines.count)
        for (kind, value, path) in [
            (FraudKeyKind.buyer, buyerID, "buyer.id"), (.cardFingerprint, cardFingerprint, "payment_instruments"),
            (.email, email, "buyer.email"), (.ipAddress, ipAddress, "buyer.ip_address"),
            (.postalCode, postalCode, "shipping_address.postal_code"),
        ] {
            guard let value, !value.trimmingSpaces.isEmpty else { continue }
            result.append(Contribution(key: FraudKey(kind, value), units: units, amount: total, path: path))
        }
        appendPerValue(.item, of: { $0.sku }, to: &result)
        appendPerValue(.itemClass, of: { $0.itemClass }, to: &result)
        return result
    }

    /// One contribution per distinct `value` of the lines, in line order,
    /// with the units and amounts of its lines (a linear search: an order
    /// has few lines, and a dictionary costs more than it saves).
    private func appendPerValue(_ kind: FraudKeyKind, of value: (FraudLine) -> String, to result: inout [Contribution]) {
        var values: [String] = []
        var sums: [(units: Int64, amount: Int64, path: String)] = []
        for line in lines {
            let current = value(line)
            if let index = values.firstIndex(of: current) {
                sums[index].units &+= line.quantity
                sums[index].amount &+= line.amount.minorUnits
            } else {
                values.append(current)
                sums.append((line.quantity, line.amount.minorUnits, line.path))
            }
        }
        for (current, sum) in zip(values, sums) {
            result.append(
                Contribution(key: FraudKey(kind, current), units: sum.units, amount: Money(minorUnits: sum.amount, currency: total.currency), path: sum.path)
            )
        }
    }
}

/// A rule violation: what is logged to the violation event log, and what the
/// client is told.
public struct FraudViolation: Sendable, Hashable {
    /// The rule violated.
    public var ruleID: String
    /// The key it was violated for (for permission rules, the item class).
    public var key: FraudKey
    /// What was observed, including this request: orders, units or minor units; 1 for a permission.
    public var observed: Int64
    /// The most allowed: 0 for a permission.
    public var limit: Int64
    /// The window, for velocity limits.
    public var windowMilliseconds: Int64?
    /// Reject or flag.
    public var action: FraudAction
    /// Where in the request the key comes from.
    public var path: String
    /// When it was found (the evaluation's `now`).
    public var atMilliseconds: Int64
    /// A description for people and logs.
    public var message: String

    /// The amendment for the response: `FRAUD_REJECTED` (blocking) or `FRAUD_FLAGGED` (a notice).
    public var amendment: Amendment {
        Amendment(
            path: path,
            code: action == .reject ? .fraudRejected : .fraudFlagged,
            message: message,
            isBlocking: action == .reject
        )
    }
}

/// The fraud avoidance controller's evaluation (FIG. 3): rules against the
/// request and the rolling statistics.
public enum FraudAvoidance {
    /// The violations of `rules` by `subject` at `now`.
    ///
    /// A velocity limit is violated when what the statistics hold for a key in the
    /// window (counting the rule's outcomes) plus this request's contribution is
    /// more than the limit: with "3 orders per card in 90 minutes", a fourth
    /// accepted order within 90 minutes is a violation. Evaluation does not record
    /// anything: afterwards, the caller records the request with
    /// ``FraudStatistics/record(_:outcome:at:)`` as `quoteOnly` for a quote,
    /// `rejected` when refused, or `accepted` when captured, and logs the violations.
    public static func evaluate(_ subject: FraudSubject, rules: [FraudRule], statistics: FraudStatistics, now: Int64) -> [FraudViolation] {
        evaluate(subject, contributions: subject.contributions, rules: rules, statistics: statistics, now: now)
    }

    /// ``evaluate(_:rules:statistics:now:)`` with the subject's
    /// ``FraudSubject/contributions`` made already (outside a caller's lock).
    public static func evaluate(
        _ subject: FraudSubject,
        contributions: [FraudSubject.Contribution],
        rules: [FraudRule],
        statistics: FraudStatistics,
        now: Int64
    ) -> [FraudViolation] {
        var violations = [FraudViolation]()
        for rule in rules {
            switch rule.kind {
            case .itemClassPermission(let itemClass, let allowed):
                guard let line = subject.lines.first(where: { $0.itemClass == itemClass }) else { continue }
                if let buyerClass = subject.buyerClass, allowed.contains(buyerClass) { continue }
                let who = subject.buyerClass.map { "buyers of class '\($0)'" } ?? "buyers without a class"
                violations.append(FraudViolation(
                    ruleID: rule.id, key: FraudKey(.itemClass, itemClass), observed: 1, limit: 0, windowMilliseconds: nil,
                    action: rule.action, path: line.path, atMilliseconds: now,
                    message: "\(who) may not buy \(itemClass) items (rule \(rule.id))"
                ))
            case .velocity(let limit):
                if let classes = limit.buyerClasses, !(subject.buyerClass.map(classes.contains) ?? false) { continue }
                for contribution in contributions where contribution.key.kind == limit.keyKind {
                    if let classes = limit.itemClasses, !applies(contribution, classes, subject) { continue }
                    let currency: CurrencyCode? = if case .amount(let max) = limit.measure { max.currency } else { nil }
                    let past = statistics.totals(
                        for: contribution.key, windowMilliseconds: limit.windowMilliseconds, now: now,
                        outcomes: limit.counting, currency: currency
                    )
                    let (observed, maximum, noun): (Int64, Int64, String)
                    switch limit.measure {
                    case .orders(let max):
                        (observed, maximum, noun) = (past.orders &+ 1, max, "orders")
                    case .units(let max):
                        (observed, maximum, noun) = (past.units &+ contribution.units, max, "units")
                    case .amount(let max):
                        let mine = contribution.amount.currency == max.currency ? contribution.amount.minorUnits : 0
                        (observed, maximum, noun) = (past.amountMinorUnits &+ mine, max.minorUnits, "minor units of \(max.currency)")
                    }
                    guard observed > maximum else { continue }
                    violations.append(FraudViolation(
                        ruleID: rule.id, key: contribution.key, observed: observed, limit: maximum,
                        windowMilliseconds: limit.windowMilliseconds, action: rule.action,
                        path: contribution.path, atMilliseconds: now,
                        message: "\(observed) \(noun) for \(contribution.key.kind) in \(describe(limit.windowMilliseconds)), more than the \(maximum) allowed (rule \(rule.id))"
                    ))
                }
            }
        }
        return violations
    }

    private static func applies(_ contribution: FraudSubject.Contribution, _ classes: Set<String>, _ subject: FraudSubject) -> Bool {
        switch contribution.key.kind {
        case .itemClass: classes.contains(contribution.key.value)
        case .item: subject.lines.contains { FraudKey(.item, $0.sku) == contribution.key && classes.contains($0.itemClass) }
        default: true
        }
    }

    /// `90 minutes`, `2 hours`, `1500 ms`.
    static func describe(_ milliseconds: Int64) -> String {
        for (unit, size) in [("day", Int64(86_400_000)), ("hour", 3_600_000), ("minute", 60_000), ("second", 1_000)] where milliseconds % size == 0 {
            let count = milliseconds / size
            return "\(count) \(unit)\(count == 1 ? "" : "s")"
        }
        return "\(milliseconds) ms"
    }
}
