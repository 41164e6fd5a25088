/// What a coupon takes off.
public enum CouponDiscount: Sendable, Hashable {
    /// A percentage of the eligible lines, in basis points (1 000 is 10%), 1...10 000.
    case percent(basisPoints: Int64)
    /// A fixed amount off the eligible lines, never more than they cost.
    case amount(Money)
}

/// Who may use a coupon bound to a holder.
public enum CouponHolder: Sendable, Hashable {
    /// The buyer whose e-mail address this is (compared without regard to ASCII case).
    case email(String)
    /// The buyer with this id.
    case buyer(String)
}

/// A digital coupon: a modular element of an order acceptance request, issued
/// and signed by a coupon issuer whose Ed25519 public key the merchant registered.
///
/// The serial number makes it single-use: once an order carrying it is captured,
/// the serial is recorded as redeemed (see ``CouponVerifier``).
public struct Coupon: Sendable, Hashable {
    /// The issuer's id; selects the public keys to verify with.
    public var issuer: String
    /// The serial number, unique per issuer.
    public var serial: String
    /// The merchant it is valid at, or `*` for every merchant that registered the issuer.
    public var merchant: String
    /// SKUs it applies to; with ``itemClasses`` both empty it applies to every line.
    public var skus: Set<String>
    /// Item classes it applies to. A line is eligible if its SKU or its class is listed.
    public var itemClasses: Set<String>
    /// What it takes off.
    public var discount: CouponDiscount
    /// The least order subtotal (before discounts) it needs, or `nil`.
    public var minimumOrder: Money?
    /// The instant it stops being valid, in Unix milliseconds (exclusive).
    public var expiresAtMilliseconds: Int64
    /// The only buyer who may use it, or `nil` for whoever holds it.
    public var holder: CouponHolder?

    /// Creates a coupon.
    public init(
        issuer: String,
        serial: String,
        merchant: String,
        skus: Set<String> = [],
        itemClasses: Set<String> = [],
        discount: CouponDiscount,
        minimumOrder: Money? = nil,
        expiresAtMilliseconds: Int64,
        holder: CouponHolder? = nil
    ) {
        self.issuer = issuer
        self.serial = serial
        self.merchant = merchant
        self.skus = skus
        self.itemClasses = itemClasses
        self.discount = discount
        self.minimumOrder = minimumOrder
        self.expiresAtMilliseconds = expiresAtMilliseconds
        self.holder = holder
    }

    /// The key under which a redemption is recorded: issuer and serial.
    public var redemptionKey: CouponRedemptionKey { CouponRedemptionKey(issuer: issuer, serial: serial) }

    /// Checks the fields a coupon must have; errors name them (`coupon.serial`).
    public func validate() throws(OrdersError) {
        if issuer.isEmpty { throw .invalid("coupon.issuer", "an issuer is required") }
        if serial.isEmpty { throw .invalid("coupon.serial", "a serial number is required") }
        if merchant.isEmpty { throw .invalid("coupon.merchant", "a merchant (or *) is required") }
        if skus.contains("") { throw .invalid("coupon.skus", "a SKU cannot be empty") }
        if itemClasses.contains("") { throw .invalid("coupon.item_classes", "an item class cannot be empty") }
        switch discount {
        case .percent(let basisPoints):
            guard (1...10_000).contains(basisPoints) else { throw .invalid("coupon.discount", "a percentage is 1 to 10000 basis points") }
        case .amount(let money):
            guard money.minorUnits > 0 else { throw .invalid("coupon.discount", "an amount off must be positive") }
        }
        if let minimumOrder, minimumOrder.minorUnits < 0 { throw .invalid("coupon.min_order", "a minimum cannot be negative") }
        switch holder {
        case .email(let email) where email.isEmpty, .buyer(let email) where email.isEmpty:
            throw .invalid("coupon.holder", "a holder cannot be empty")
        default:
            break
        }
    }
}

/// The identity of one coupon for single-use checks: issuer plus serial.
public struct CouponRedemptionKey: Sendable, Hashable, CustomStringConvertible {
    /// The issuer's id.
    public var issuer: String
    /// The serial number.
    public var serial: String

    /// Creates a key.
    public init(issuer: String, serial: String) {
        self.issuer = issuer
        self.serial = serial
    }

    public var description: String { "\(issuer)/\(serial)" }
}
