/// A remark of the order acceptance response: which part of the request it is
/// about, which acceptance criterion it concerns, and a ranked menu of
/// alternatives the merchant would accept instead.
///
/// A plain value: the controller collects amendments from every step and
/// encodes them into the response. A request with any blocking amendment is not
/// captured; notices (volume-price hints, "buy C too?", free items, flagged fraud
/// checks) inform the client but do not stop a capture.
public struct Amendment: Sendable, Hashable {
    /// The standard code of an amendment. A struct so that new codes can be added.
    public struct Code: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The code as it appears on the wire, such as `QUANTITY_OVER_LIMIT`.
        public let rawValue: String
        /// A code from its wire name; prefer the static members.
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        public static func < (lhs: Code, rhs: Code) -> Bool { lhs.rawValue < rhs.rawValue }

        // Items and pricing.
        /// The SKU is not in the merchant's catalog.
        public static let itemUnknown = Code(rawValue: "ITEM_UNKNOWN")
        /// The quantity is not a positive whole number.
        public static let quantityInvalid = Code(rawValue: "QUANTITY_INVALID")
        /// More units than one order may contain.
        public static let quantityOverLimit = Code(rawValue: "QUANTITY_OVER_LIMIT")
        /// The price the client expected is not the current price.
        public static let priceChanged = Code(rawValue: "PRICE_CHANGED")
        /// The request's currency is not the merchant's.
        public static let currencyMismatch = Code(rawValue: "CURRENCY_MISMATCH")
        /// Notice: a few more units would reach a lower unit price.
        public static let volumePriceAvailable = Code(rawValue: "VOLUME_PRICE_AVAILABLE")
        /// Notice: the merchant suggests adding an item ("buy C too?").
        public static let itemSuggested = Code(rawValue: "ITEM_SUGGESTED")
        /// Notice: a free item comes with the order.
        public static let freeItemAdded = Code(rawValue: "FREE_ITEM_ADDED")
        /// Not enough inventory for the quantity.
        public static let inventoryShort = Code(rawValue: "INVENTORY_SHORT")
        /// A plug-in failed or did not answer in time: a notice when it fails
        /// open, blocking (without alternatives) when it fails closed.
        public static let pluginFailed = Code(rawValue: "PLUGIN_FAILED")

        // Coupons.
        /// The coupon is malformed, its signature does not verify, or its issuer is not registered.
        public static let couponInvalid = Code(rawValue: "COUPON_INVALID")
        /// The coupon's expiry has passed.
        public static let couponExpired = Code(rawValue: "COUPON_EXPIRED")
        /// The coupon's single-use serial was already redeemed.
        public static let couponRedeemed = Code(rawValue: "COUPON_REDEEMED")
        /// The coupon is bound to another holder.
        public static let couponWrongHolder = Code(rawValue: "COUPON_WRONG_HOLDER")
        /// The coupon is for another merchant, or no line is in its SKU or category scope.
        public static let couponOutOfScope = Code(rawValue: "COUPON_OUT_OF_SCOPE")
        /// The order is below the coupon's minimum.
        public static let couponMinimumNotMet = Code(rawValue: "COUPON_MINIMUM_NOT_MET")

        // Addresses.
        /// A required address field is missing or malformed.
        public static let addressInvalid = Code(rawValue: "ADDRESS_INVALID")
        /// The postal code does not have the country's format.
        public static let addressPostalFormat = Code(rawValue: "ADDRESS_POSTAL_FORMAT")
        /// The postal code does not belong to the state or province given.
        public static let addressPostalMismatch = Code(rawValue: "ADDRESS_POSTAL_MISMATCH")
        /// The merchant does not ship to post-office boxes.
        public static let addressPOBox = Code(rawValue: "ADDRESS_PO_BOX")

        // Shipping.
        /// The shipping method cannot deliver this order (unknown method, region not served, too heavy, weekday).
        public static let shippingUnavailable = Code(rawValue: "SHIPPING_UNAVAILABLE")
        /// The order's hazardous materials cannot travel by this method.
        public static let shippingHazmat = Code(rawValue: "SHIPPING_HAZMAT")
        /// Saturday delivery is not available with this method to this destination.
        public static let saturdayUnavailable = Code(rawValue: "SATURDAY_UNAVAILABLE")
        /// None of the client's methods, and no other, can ship the order.
        public static let notShippable = Code(rawValue: "NOT_SHIPPABLE")

        // Payment.
        /// No instrument of a kind the merchant accepts for these items.
        public static let paymentKindNotAccepted = Code(rawValue: "PAYMENT_KIND_NOT_ACCEPTED")
        /// The instrument is malformed (a card number failing the Luhn check).
        public static let paymentInstrumentInvalid = Code(rawValue: "PAYMENT_INSTRUMENT_INVALID")
        /// The instrument's balance or limit does not cover the amount.
        public static let paymentInsufficient = Code(rawValue: "PAYMENT_INSUFFICIENT")

        // Fraud avoidance.
        /// A fraud rule refuses the order.
        public static let fraudRejected = Code(rawValue: "FRAUD_REJECTED")
        /// Notice: a fraud rule flags the order for review.
        public static let fraudFlagged = Code(rawValue: "FRAUD_FLAGGED")
    }

    /// The new value of one request field in an alternative.
    public enum Value: Sendable, Hashable, CustomStringConvertible {
        /// A text value: a SKU, a shipping method id, a payment kind, a region code.
        case text(String)
        /// A whole number: a quantity, a Unix-millisecond date.
        case integer(Int64)
        /// Remove the element at the path (a line, a coupon, an instrument).
        case remove

        public var description: String {
            switch self {
            case .text(let text): text
            case .integer(let value): String(value)
            case .remove: "(remove)"
            }
        }
    }

    /// A machine-readable change: set the field at `path` to `value`.
    public struct Replacement: Sendable, Hashable {
        /// The field to change, such as `lines[2].quantity` or `shipping_methods[0]`.
        public var path: String
        /// Its new value.
        public var value: Value

        /// Creates a replacement.
        public init(path: String, value: Value) {
            self.path = path
            self.value = value
        }
    }

    /// One entry of the menu: a change the merchant would accept and what it does to the price.
    public struct Alternative: Sendable, Hashable {
        /// What the change is, for people.
        public var description: String
        /// The changes to make, applied together (adding a line sets its SKU and quantity).
        public var replacements: [Replacement]
        /// How the order total would change: positive costs more, negative costs less.
        public var priceDifference: Money

        /// Creates an alternative.
        public init(description: String, replacements: [Replacement], priceDifference: Money) {
            self.description = description
            self.replacements = replacements
            self.priceDifference = priceDifference
        }
    }

    /// The part of the request the amendment refers to, such as `lines[2].quantity`.
    public var path: String
    /// The acceptance criterion violated (or the notice given).
    public var code: Code
    /// A human-readable explanation.
    public var message: String
    /// Whether the order cannot be captured while this stands.
    public var isBlocking: Bool
    /// Acceptable alternatives, best first (see ``ranked(_:)``).
    public var alternatives: [Alternative]

    /// Creates an amendment.
    public init(path: String, code: Code, message: String, isBlocking: Bool = true, alternatives: [Alternative] = []) {
        self.path = path
        self.code = code
        self.message = message
        self.isBlocking = isBlocking
        self.alternatives = alternatives
    }

    /// Orders alternatives from closest to the client's request to farthest: the
    /// smallest absolute price difference first, then the cheaper. Stable: equal
    /// differences keep the order they were given in (a merchant's preference).
    public static func ranked(_ alternatives: [Alternative]) -> [Alternative] {
        rankOrder(alternatives, \.priceDifference)
    }

    /// The ranking rule of ``ranked(_:)`` for any kind of choice.
    static func rankOrder<Choice>(_ choices: [Choice], _ price: (Choice) -> Money) -> [Choice] {
        choices.enumerated().sorted { lhs, rhs in
            let l = price(lhs.element).minorUnits, r = price(rhs.element).minorUnits
            if l.magnitude != r.magnitude { return l.magnitude < r.magnitude }
            if l != r { return l < r }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }
}

extension Array where Element == Amendment {
    /// True when any amendment blocks capture.
    public var hasBlocking: Bool { contains { $0.isBlocking } }
}
