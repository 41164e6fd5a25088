import Crypto
import Foundation

/// What the coupon step knows about the order.
public struct CouponOrderContext: Sendable, Hashable {
    /// The merchant the order is placed with.
    public var merchant: String
    /// The buyer's id, if known (authenticated by the agent).
    public var buyerID: String?
    /// The buyer's e-mail address, if given.
    public var buyerEmail: String?
    /// The priced lines from the item check.
    public var lines: [PricedLine]

    /// Creates a context.
    public init(merchant: String, buyerID: String? = nil, buyerEmail: String? = nil, lines: [PricedLine]) {
        self.merchant = merchant
        self.buyerID = buyerID
        self.buyerEmail = buyerEmail
        self.lines = lines
    }
}

/// The part of a coupon's discount that falls on one line (for tax on the net amount).
public struct LineDiscount: Sendable, Hashable {
    /// The line's index in the request.
    public var lineIndex: Int
    /// The discount on it (positive).
    public var amount: Money

    /// Creates a line discount.
    public init(lineIndex: Int, amount: Money) {
        self.lineIndex = lineIndex
        self.amount = amount
    }
}

/// A coupon that passed every check: its discount and the serial to redeem at capture.
public struct RedeemableCoupon: Sendable, Hashable {
    /// The verified coupon.
    public var coupon: Coupon
    /// The total discount (positive), never more than the eligible lines cost.
    public var discount: Money
    /// The discount spread over the eligible lines.
    public var lineDiscounts: [LineDiscount]
    /// Record this as redeemed when the order is captured.
    public var redemptionKey: CouponRedemptionKey { coupon.redemptionKey }
}

/// Why a coupon was refused.
public struct CouponRejection: Error, Sendable, Hashable {
    /// `COUPON_INVALID`, `COUPON_EXPIRED`, `COUPON_REDEEMED`, `COUPON_WRONG_HOLDER`,
    /// `COUPON_OUT_OF_SCOPE` or `COUPON_MINIMUM_NOT_MET`.
    public var code: Amendment.Code
    /// The reason for people.
    public var message: String

    /// Creates a rejection.
    public init(code: Amendment.Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The blocking amendment for the coupon at `path` (`coupons[0]`); its one alternative removes the coupon.
    public func amendment(path: String, currency: CurrencyCode) -> Amendment {
        Amendment(path: path, code: code, message: message, alternatives: [
            Amendment.Alternative(description: "remove the coupon", replacements: [.init(path: path, value: .remove)], priceDifference: .zero(currency)),
        ])
    }
}

/// The coupon step's outcome for every coupon in a request.
public struct CouponCheckResult: Sendable, Hashable {
    /// The coupons that apply, in request order, with their discounts.
    public var accepted: [RedeemableCoupon]
    /// One blocking amendment per refused coupon, at `coupons[i]`.
    public var amendments: [Amendment]
    /// The sum of the accepted discounts (never more than the subtotal).
    public var totalDiscount: Money
}

/// Verifies signed coupons against a merchant's registered issuer keys.
///
/// Checks, in order (the first failure is reported):
/// 1. the text form and canonical payload parse (`COUPON_INVALID`);
/// 2. the issuer is registered and one of its keys verifies the Ed25519
///    signature over the payload bytes (`COUPON_INVALID`: forged or altered);
/// 3. the coupon's merchant is this order's merchant or `*` (`COUPON_OUT_OF_SCOPE`);
/// 4. `now < expires_at_ms` (`COUPON_EXPIRED`);
/// 5. a holder-bound coupon names this buyer's id or e-mail (`COUPON_WRONG_HOLDER`);
/// 6. some line is in its SKU or item-class scope, in its currency (`COUPON_OUT_OF_SCOPE`);
/// 7. the order subtotal reaches its minimum (`COUPON_MINIMUM_NOT_MET`);
/// 8. its serial is not redeemed (`COUPON_REDEEMED`).
///
/// Single use: the verifier only *asks* `isRedeemed` (a read of the caller's
/// redemption records). The guarantee comes from the caller recording
/// ``RedeemableCoupon/redemptionKey`` in the same database transaction that
/// captures the order, under a uniqueness constraint; a capture that finds the
/// key already there fails. Within one request, a serial given twice is refused
/// the second time.
public struct CouponVerifier: Sendable {
    private let keys: [String: [Curve25519.Signing.PublicKey]]

    /// A verifier for the keys a merchant registered. Keys that are not 32 bytes
    /// are skipped; an issuer may register several (key rotation).
    public init(keys: [CouponIssuerKey]) {
        var byIssuer = [String: [Curve25519.Signing.PublicKey]]()
        for key in keys {
            guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.publicKey) else { continue }
            byIssuer[key.issuer, default: []].append(publicKey)
        }
        self.keys = byIssuer
    }

    /// Verifies one coupon for `order` at `now` (Unix milliseconds); the discount
    /// is computed on the lines' full amounts (see ``verifyAll(_:order:now:isRedeemed:)`` for stacking).
    public func verify(
        _ text: String,
        order: CouponOrderContext,
        now: Int64,
        isRedeemed: (CouponRedemptionKey) -> Bool
    ) -> Result<RedeemableCoupon, CouponRejection> {
        verify(text, order: order, remaining: order.lines.map(\.lineTotal), now: now, isRedeemed: isRedeemed)
    }

    /// Verifies the coupons of a request in order, stacking them.
    ///
    /// Each accepted coupon's discount is computed on what is left of its eligible
    /// lines after the coupons before it, so no line goes below zero. A percentage
    /// discount is `eligible × basis points / 10 000` rounded half-up to the minor
    /// unit; a fixed one is at most the eligible amount. Each discount is spread
    /// over its lines by ``Money/allocated(proportionalTo:)``. An order without
    /// priced lines has nothing in any coupon's scope.
    public func verifyAll(
        _ texts: [String],
        order: CouponOrderContext,
        now: Int64,
        isRedeemed: (CouponRedemptionKey) -> Bool
    ) -> CouponCheckResult {
        let currency = order.lines.first?.lineTotal.currency ?? .usd
        var remaining = order.lines.map(\.lineTotal)
        var accepted = [RedeemableCoupon]()
        var amendments = [Amendment]()
        var seen = Set<CouponRedemptionKey>()
        var total = Money.zero(currency)
        for (index, text) in texts.enumerated() {
            let path = "coupons[\(index)]"
            let result = verify(text, order: order, remaining: remaining, now: now) { key in
                !seen.insert(key).inserted || isRedeemed(key)
            }
            switch result {
            case .success(let coupon):
                for share in coupon.lineDiscounts {
                    if let position = order.lines.firstIndex(where: { $0.index == share.lineIndex }) {
                        remaining[position].minorUnits -= share.amount.minorUnits
                    }
                }
                total.minorUnits += coupon.discount.minorUnits
                accepted.append(coupon)
            case .failure(let rejection):
                amendments.append(rejection.amendment(path: path, currency: currency))
            }
        }
        return CouponCheckResult(accepted: accepted, amendments: amendments, totalDiscount: total)
    }

    private func verify(
        _ text: String,
        order: CouponOrderContext,
        remaining: [Money],
        now: Int64,
        isRedeemed: (CouponRedemptionKey) -> Bool
    ) -> Result<RedeemableCoupon, CouponRejection> {
        func reject(_ code: Amendment.Code, _ message: String) -> Result<RedeemableCoupon, CouponRejection> {
            .failure(CouponRejection(code: code, message: message))
        }
        let payload: [UInt8], signature: [UInt8], coupon: Coupon
        do throws(OrdersError) {
            (payload, signature) = try CouponEncoding.split(text)
            coupon = try CouponEncoding.coupon(fromPayload: payload)
        } catch {
            return reject(.couponInvalid, error.message)
        }
        guard let issuerKeys = keys[coupon.issuer] else {
            return reject(.couponInvalid, "coupon issuer '\(coupon.issuer)' is not registered with this merchant")
        }
        guard issuerKeys.contains(where: { $0.isValidSignature(signature, for: payload) }) else {
            return reject(.couponInvalid, "the coupon's signature does not verify: it is forged or was altered")
        }
        guard coupon.merchant == "*" || coupon.merchant == order.merchant else {
            return reject(.couponOutOfScope, "coupon \(coupon.serial) is for merchant '\(coupon.merchant)', not '\(order.merchant)'")
        }
        guard now < coupon.expiresAtMilliseconds else {
            return reject(.couponExpired, "coupon \(coupon.serial) expired at \(coupon.expiresAtMilliseconds) ms")
        }
        switch coupon.holder {
        case .email(let email):
            guard let buyerEmail = order.buyerEmail,
                  CouponEncoding.asciiLowercased(buyerEmail.trimmingSpaces) == CouponEncoding.asciiLowercased(email) else {
                return reject(.couponWrongHolder, "coupon \(coupon.serial) belongs to another buyer")
            }
        case .buyer(let buyer):
            guard order.buyerID == buyer else {
                return reject(.couponWrongHolder, "coupon \(coupon.serial) belongs to another buyer")
            }
        case nil:
            break
        }

        let unscoped = coupon.skus.isEmpty && coupon.itemClasses.isEmpty
        let eligible = order.lines.indices.filter { position in
            let item = order.lines[position].item
            return unscoped || coupon.skus.contains(item.sku) || coupon.itemClasses.contains(item.itemClass)
        }
        guard !eligible.isEmpty, let currency = order.lines.first?.lineTotal.currency else {
            return reject(.couponOutOfScope, "no item on the order is covered by coupon \(coupon.serial)")
        }
        if case .amount(let amount) = coupon.discount, amount.currency != currency {
            return reject(.couponOutOfScope, "coupon \(coupon.serial) is in \(amount.currency), the order in \(currency)")
        }
        if let minimum = coupon.minimumOrder {
            guard minimum.currency == currency else {
                return reject(.couponOutOfScope, "coupon \(coupon.serial) is in \(minimum.currency), the order in \(currency)")
            }
            let subtotal = order.lines.reduce(Int64(0)) { $0 &+ $1.lineTotal.minorUnits }
            guard subtotal >= minimum.minorUnits else {
                return reject(.couponMinimumNotMet, "coupon \(coupon.serial) needs an order of at least \(minimum); this one is \(Money(minorUnits: subtotal, currency: currency))")
            }
        }
        guard !isRedeemed(coupon.redemptionKey) else {
            return reject(.couponRedeemed, "coupon \(coupon.serial) has already been used")
        }

        let eligibleAmount = eligible.reduce(Int64(0)) { $0 &+ max(remaining[$1].minorUnits, 0) }
        let base = Money(minorUnits: eligibleAmount, currency: currency)
        let discount: Money = switch coupon.discount {
        case .percent(let basisPoints): base.applying(.basisPoints(basisPoints))
        case .amount(let amount): amount.minorUnits < eligibleAmount ? amount : base
        }
        let shares = (try? discount.allocated(proportionalTo: eligible.map { max(remaining[$0].minorUnits, 0) })) ?? []
        let lineDiscounts = zip(eligible, shares).map { LineDiscount(lineIndex: order.lines[$0].index, amount: $1) }
        return .success(RedeemableCoupon(coupon: coupon, discount: discount, lineDiscounts: lineDiscounts))
    }
}
