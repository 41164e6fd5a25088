import Crypto

/// What rolling statistics are keyed by.
public struct FraudKeyKind: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The name, such as `card_fingerprint`.
    public let rawValue: String
    /// Creates a value from its name; prefer the static members.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The buyer's identity.
    public static let buyer = FraudKeyKind(rawValue: "buyer")
    /// The payment card's fingerprint (never the number).
    public static let cardFingerprint = FraudKeyKind(rawValue: "card_fingerprint")
    /// The buyer's e-mail address (lower-cased).
    public static let email = FraudKeyKind(rawValue: "email")
    /// The client's network address.
    public static let ipAddress = FraudKeyKind(rawValue: "ip_address")
    /// The delivery postal code (upper-cased, without spaces).
    public static let postalCode = FraudKeyKind(rawValue: "postal_code")
    /// A SKU.
    public static let item = FraudKeyKind(rawValue: "item")
    /// An item class.
    public static let itemClass = FraudKeyKind(rawValue: "item_class")

    public var description: String { rawValue }
    public static func < (lhs: FraudKeyKind, rhs: FraudKeyKind) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One key of the rolling statistics: a kind and a normalized value.
public struct FraudKey: Sendable, Hashable, CustomStringConvertible {
    /// The longest value kept as is, in UTF-8 bytes; longer ones are replaced by a hash.
    public static let maximumValueBytes = 64

    /// The kind.
    public let kind: FraudKeyKind
    /// The normalized value: e-mail lower-cased and trimmed; postal code upper-cased
    /// without spaces or hyphens; any value over ``maximumValueBytes`` bytes replaced by
    /// `sha256:` and 32 hex digits of its SHA-256.
    public let value: String

    /// Creates a key, normalizing `value` for its kind.
    public init(_ kind: FraudKeyKind, _ value: String) {
        var normalized = value.trimmingSpaces
        if kind == .email { normalized = CouponEncoding.asciiLowercased(normalized) }
        if kind == .postalCode { normalized = normalized.uppercased().filter { $0 != " " && $0 != "-" } }
        if normalized.utf8.count > Self.maximumValueBytes {
            normalized = "sha256:" + Hex.encode(Array(SHA256.hash(data: Array(normalized.utf8))).prefix(16))
        }
        self.kind = kind
        self.value = normalized
    }

    /// A key whose value was normalized when it was first made (read back
    /// from storage): normalizing again could change it (a hashed postal
    /// code would be upper-cased).
    init(kind: FraudKeyKind, normalizedValue: String) {
        self.kind = kind
        self.value = normalizedValue
    }

    public var description: String { "\(kind)=\(value)" }
}

/// How a request ended, as recorded in the rolling statistics.
public enum FraudOutcome: UInt8, Sendable, Hashable, CaseIterable {
    /// Captured (or accepted for capture).
    case accepted
    /// Refused, by fraud rules or any other acceptance criterion.
    case rejected
    /// A quote ("recalculate"): evaluated without the client asking to buy.
    case quoteOnly
}

/// What a rule does when it is violated.
public enum FraudAction: String, Sendable, Hashable {
    /// Refuse the order (a blocking `FRAUD_REJECTED` amendment).
    case reject
    /// Let it through but log the violation and tell the client (`FRAUD_FLAGGED` notice).
    case flag
}

/// What a velocity limit counts.
public enum FraudMeasure: Sendable, Hashable {
    /// Orders (one per request recorded for the key), at most `max` in the window.
    case orders(max: Int64)
    /// Units (quantities added up), at most `max` in the window.
    case units(max: Int64)
    /// Money spent, at most `max` in the window; only amounts in its currency count.
    case amount(max: Money)
}

/// A limit of orders, units or money per key per window: "at most 3 orders per
/// card fingerprint in 90 minutes".
public struct VelocityLimit: Sendable, Hashable {
    /// The key the limit is kept per.
    public var keyKind: FraudKeyKind
    /// The window in milliseconds: the events with `now - window < t <= now` count.
    public var windowMilliseconds: Int64
    /// What is counted, and the most allowed.
    public var measure: FraudMeasure
    /// Which recorded outcomes count (accepted orders only, by default).
    public var counting: Set<FraudOutcome>
    /// The rule applies only to buyers of these classes; `nil` for every buyer.
    public var buyerClasses: Set<String>?
    /// For `item` and `item_class` keys: only items of these classes; `nil` for all.
    public var itemClasses: Set<String>?

    /// Creates a limit.
    public init(
        keyKind: FraudKeyKind,
        windowMilliseconds: Int64,
        measure: FraudMeasure,
        counting: Set<FraudOutcome> = [.accepted],
        buyerClasses: Set<String>? = nil,
        itemClasses: Set<String>? = nil
    ) {
        self.keyKind = keyKind
        self.windowMilliseconds = windowMilliseconds
        self.measure = measure
        self.counting = counting
        self.buyerClasses = buyerClasses
        self.itemClasses = itemClasses
    }
}

/// A fraud avoidance rule (FIG. 3's rules database).
public struct FraudRule: Sendable, Hashable {
    /// What the rule checks.
    public enum Kind: Sendable, Hashable {
        /// Only buyers of `allowedBuyerClasses` may buy items of `itemClass`
        /// (item classes without such a rule are open to everyone).
        case itemClassPermission(itemClass: String, allowedBuyerClasses: Set<String>)
        /// A velocity limit.
        case velocity(VelocityLimit)
    }

    /// The rule's id, quoted in violations.
    public var id: String
    /// What it checks.
    public var kind: Kind
    /// What a violation does.
    public var action: FraudAction

    /// Creates a rule.
    public init(id: String, kind: Kind, action: FraudAction = .reject) {
        self.id = id
        self.kind = kind
        self.action = action
    }

    /// Checks that `statistics` can answer this rule exactly: a positive window no
    /// longer than its retention, and an order-count limit below its per-key event cap.
    /// Errors name `rules[index]...`.
    public func validate(index: Int, against limits: FraudStatistics.Limits) throws(OrdersError) {
        guard case .velocity(let limit) = kind else { return }
        let path = "rules[\(index)]"
        guard limit.windowMilliseconds > 0, limit.windowMilliseconds <= limits.retentionMilliseconds else {
            throw .configuration("\(path).window_ms", "a window is 1 ms to \(limits.retentionMilliseconds) ms (the statistics' retention)")
        }
        switch limit.measure {
        case .orders(let max) where max < 0 || max >= Int64(limits.maximumEventsPerKey):
            throw .configuration("\(path).limit", "an order limit is 0 to \(limits.maximumEventsPerKey - 1) (the statistics keep \(limits.maximumEventsPerKey) events per key)")
        case .units(let max) where max < 0:
            throw .configuration("\(path).limit", "a limit cannot be negative")
        case .amount(let max) where max.minorUnits < 0:
            throw .configuration("\(path).limit", "a limit cannot be negative")
        default:
            break
        }
    }
}
