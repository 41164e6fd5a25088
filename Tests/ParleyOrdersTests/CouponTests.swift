import Crypto
import Foundation
import ParleyOrders
import Testing

@Suite("Coupons")
struct CouponTests {
    typealias F = Fixtures
    static let expiry: Int64 = 1_800_000_000_000
    let minter = try! CouponMinter(issuer: "acme-promo", rawPrivateKey: [UInt8](repeating: 7, count: 32))
    var verifier: CouponVerifier { CouponVerifier(keys: [minter.issuerKey]) }

    /// Widgets 3 × $10.00 (hardware) and one manual at $19.99 (books): $49.99.
    let order = CouponOrderContext(
        merchant: "acme", buyerID: "buyer-17", buyerEmail: "Pat@Example.com",
        lines: Fixtures.priced([.init(sku: "WID-1", quantity: 3), .init(sku: "BOOK-1", quantity: 1)])
    )

    func coupon(
        serial: String = "S-0001", merchant: String = "acme", skus: Set<String> = [], itemClasses: Set<String> = [],
        discount: CouponDiscount = .percent(basisPoints: 1_000), minimum: Money? = nil, holder: CouponHolder? = nil
    ) -> Coupon {
        Coupon(
            issuer: "acme-promo", serial: serial, merchant: merchant, skus: skus, itemClasses: itemClasses,
            discount: discount, minimumOrder: minimum, expiresAtMilliseconds: Self.expiry, holder: holder
        )
    }

    func check(_ text: String, order: CouponOrderContext? = nil, now: Int64 = F.wednesday, redeemed: Set<String> = []) -> Result<RedeemableCoupon, CouponRejection> {
        verifier.verify(text, order: order ?? self.order, now: now) { redeemed.contains($0.serial) }
    }

    func code(_ result: Result<RedeemableCoupon, CouponRejection>) -> Amendment.Code? {
        if case .failure(let rejection) = result { return rejection.code }
        return nil
    }

    @Test("the canonical payload is exactly the documented bytes")
    func canonicalPayload() throws {
        let value = Coupon(
            issuer: "acme-promo", serial: "S/1", merchant: "acme", skus: ["WID-1", "A,B"], itemClasses: ["hardware"],
            discount: .amount(F.usd(500)), minimumOrder: F.usd(2_000), expiresAtMilliseconds: 1_800_000_000_000,
            holder: .email("Pat@Example.COM")
        )
        let text = String(decoding: try CouponEncoding.payload(value), as: UTF8.self)
        #expect(text == """
            parley-coupon/1
            issuer=acme-promo
            serial=S%2F1
            merchant=acme
            skus=A%2CB,WID-1
            item_classes=hardware
            discount=amount:500:USD
            min_order=2000:USD
            expires_at_ms=1800000000000
            holder=email:pat@example.com

            """)
        var decoded = try CouponEncoding.coupon(fromPayload: Array(text.utf8))
        #expect(decoded.holder == .email("pat@example.com"))
        decoded.holder = value.holder
        #expect(decoded == value)
    }

    @Test("a minted coupon verifies; a percentage discount is rounded half-up on the eligible lines")
    func accepted() throws {
        // 33.33% of the $30.00 of hardware = 999.9¢ → $10.00.
        let text = try minter.mint(coupon(itemClasses: ["hardware"], discount: .percent(basisPoints: 3_333)))
        let redeemable = try check(text).get()
        #expect(redeemable.discount == F.usd(1_000))
        #expect(redeemable.lineDiscounts == [LineDiscount(lineIndex: 0, amount: F.usd(1_000))])
        #expect(redeemable.redemptionKey == CouponRedemptionKey(issuer: "acme-promo", serial: "S-0001"))
        #expect(text.split(separator: ".").count == 2)
        #expect(!text.contains("="))
    }

    @Test("a forged or altered coupon is COUPON_INVALID")
    func forged() throws {
        let forger = CouponMinter(issuer: "acme-promo")
        #expect(code(check(try forger.mint(coupon()))) == .couponInvalid)

        // Same signature, payload altered to a bigger discount.
        let genuine = try minter.mint(coupon())
        let signature = genuine.split(separator: ".")[1]
        let altered = try CouponEncoding.payload(coupon(discount: .percent(basisPoints: 9_000)))
        let tampered = Data(altered).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "") + "." + signature
        let result = check(tampered)
        #expect(code(result) == .couponInvalid)
        if case .failure(let rejection) = result { #expect(rejection.message.contains("forged")) }

        let stranger = CouponMinter(issuer: "someone-else")
        let unregistered = try stranger.mint(Coupon(issuer: "someone-else", serial: "1", merchant: "acme", discount: .percent(basisPoints: 100), expiresAtMilliseconds: Self.expiry))
        #expect(code(check(unregistered)) == .couponInvalid)
        for garbage in ["", "abc", "a.b.c", "!!!.???", String(repeating: "A", count: 9_000)] {
            #expect(code(check(garbage)) == .couponInvalid)
        }
    }

    @Test("a payload that is not canonical is refused even when properly signed")
    func nonCanonical() throws {
        let payload = try CouponEncoding.payload(coupon())
        let padded = Array(String(decoding: payload, as: UTF8.self).replacingOccurrences(of: "expires_at_ms=", with: "expires_at_ms=0").utf8)
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32))
        let signature = try key.signature(for: padded)
        func b64(_ bytes: some DataProtocol) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        #expect(code(check(b64(padded) + "." + b64(signature))) == .couponInvalid)
    }

    @Test("a coupon is valid until its expiry instant, exclusive")
    func expired() throws {
        let text = try minter.mint(coupon())
        #expect(code(check(text, now: Self.expiry - 1)) == nil)
        #expect(code(check(text, now: Self.expiry)) == .couponExpired)
        #expect(code(check(text, now: Self.expiry + 86_400_000)) == .couponExpired)
    }

    @Test("a redeemed serial is COUPON_REDEEMED, and so is the same serial twice in one request")
    func reused() throws {
        let text = try minter.mint(coupon())
        #expect(code(check(text, redeemed: ["S-0001"])) == .couponRedeemed)
        let batch = verifier.verifyAll([text, text], order: order, now: F.wednesday) { _ in false }
        #expect(batch.accepted.count == 1)
        #expect(batch.amendments.map(\.code) == [.couponRedeemed])
        #expect(batch.amendments.map(\.path) == ["coupons[1]"])
        #expect(batch.amendments.first?.alternatives.first?.replacements == [.init(path: "coupons[1]", value: .remove)])
    }

    @Test("a holder-bound coupon works only for its holder")
    func wrongHolder() throws {
        let forPat = try minter.mint(coupon(holder: .email("pat@example.com")))
        #expect(code(check(forPat)) == nil) // case-insensitive
        var eve = order
        eve.buyerEmail = "eve@example.com"
        #expect(code(check(forPat, order: eve)) == .couponWrongHolder)
        eve.buyerEmail = nil
        #expect(code(check(forPat, order: eve)) == .couponWrongHolder)
        let forBuyer = try minter.mint(coupon(holder: .buyer("buyer-17")))
        #expect(code(check(forBuyer)) == nil)
        var other = order
        other.buyerID = "buyer-18"
        #expect(code(check(forBuyer, order: other)) == .couponWrongHolder)
    }

    @Test("scope: another merchant's coupon or one for items not on the order is COUPON_OUT_OF_SCOPE")
    func outOfScope() throws {
        #expect(code(check(try minter.mint(coupon(merchant: "globex")))) == .couponOutOfScope)
        #expect(code(check(try minter.mint(coupon(merchant: "*")))) == nil)
        #expect(code(check(try minter.mint(coupon(skus: ["ACID-NITRIC"])))) == .couponOutOfScope)
        #expect(code(check(try minter.mint(coupon(discount: .amount(F.cad(500)))))) == .couponOutOfScope)
        let bySKU = try check(try minter.mint(coupon(skus: ["BOOK-1"]))).get()
        #expect(bySKU.discount == F.usd(200)) // 10% of $19.99 = 199.9¢ → 200¢
    }

    @Test("a minimum order above the subtotal is COUPON_MINIMUM_NOT_MET")
    func minimum() throws {
        #expect(code(check(try minter.mint(coupon(minimum: F.usd(5_000))))) == .couponMinimumNotMet)
        #expect(code(check(try minter.mint(coupon(minimum: F.usd(4_999))))) == nil)
    }

    @Test("a fixed discount never exceeds the eligible amount; stacked coupons apply to what is left")
    func fixedAndStacked() throws {
        let big = try check(try minter.mint(coupon(skus: ["BOOK-1"], discount: .amount(F.usd(2_500))))).get()
        #expect(big.discount == F.usd(1_999))
        let half1 = try minter.mint(coupon(serial: "H1", discount: .percent(basisPoints: 5_000)))
        let half2 = try minter.mint(coupon(serial: "H2", discount: .percent(basisPoints: 5_000)))
        let batch = verifier.verifyAll([half1, half2], order: order, now: F.wednesday) { _ in false }
        // 50% of $49.99 = 2499.5¢ → 2500¢; then 50% of the $24.99 left = 1249.5¢ → 1250¢.
        #expect(batch.accepted.map(\.discount) == [F.usd(2_500), F.usd(1_250)])
        #expect(batch.totalDiscount == F.usd(3_750))
        #expect(batch.accepted.flatMap(\.lineDiscounts).reduce(0) { $0 + $1.amount.minorUnits } == 3_750)
    }

    @Test("minting refuses invalid coupons, naming the field; issuer keys round-trip as text")
    func mintingAndKeys() throws {
        #expect((#expect(throws: OrdersError.self) { try minter.mint(coupon(discount: .percent(basisPoints: 0))) })?.field == "coupon.discount")
        #expect((#expect(throws: OrdersError.self) { try minter.mint(coupon(serial: "")) })?.field == "coupon.serial")
        let other = Coupon(issuer: "x", serial: "1", merchant: "acme", discount: .percent(basisPoints: 1), expiresAtMilliseconds: 1)
        #expect((#expect(throws: OrdersError.self) { try minter.mint(other) })?.field == "coupon.issuer")
        let key = minter.issuerKey
        #expect(try CouponIssuerKey(issuer: key.issuer, publicKeyText: key.publicKeyText) == key)
        #expect(throws: OrdersError.self) { try CouponIssuerKey(issuer: "x", publicKeyText: "short") }
    }
}
