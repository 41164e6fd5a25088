import Crypto
import Foundation

/// A coupon issuer's public key, as a merchant registers it.
public struct CouponIssuerKey: Sendable, Hashable {
    /// The issuer's id, matched against ``Coupon/issuer``.
    public var issuer: String
    /// The raw 32-byte Ed25519 public key.
    public var publicKey: [UInt8]

    /// Creates a registration from raw key bytes (32 bytes).
    public init(issuer: String, publicKey: [UInt8]) {
        self.issuer = issuer
        self.publicKey = publicKey
    }

    /// Creates a registration from a swift-crypto public key.
    public init(issuer: String, publicKey: Curve25519.Signing.PublicKey) {
        self.init(issuer: issuer, publicKey: Array(publicKey.rawRepresentation))
    }

    /// Creates a registration from the key's base64url text (as ``publicKeyText`` gives it).
    public init(issuer: String, publicKeyText: String) throws(OrdersError) {
        guard let bytes = Base64URL.decode(publicKeyText), bytes.count == 32 else {
            throw .invalid("issuer_keys.public_key", "an Ed25519 public key is 32 bytes in unpadded base64url")
        }
        self.init(issuer: issuer, publicKey: bytes)
    }

    /// The key as unpadded base64url text, for configuration files and the CLI.
    public var publicKeyText: String { Base64URL.encode(publicKey) }
}

/// Signs coupons for one issuer, for tests, the demo and the CLI.
///
/// ```swift
/// let minter = CouponMinter(issuer: "acme-promo")
/// let text = try minter.mint(Coupon(issuer: "acme-promo", serial: "S-1", merchant: "acme", discount: .percent(basisPoints: 1000), expiresAtMilliseconds: 1_900_000_000_000))
/// // register minter.issuerKey with the merchant; clients send `text`.
/// ```
public struct CouponMinter: Sendable {
    /// The issuer this minter signs for.
    public let issuer: String
    private let privateKey: Curve25519.Signing.PrivateKey

    /// A minter with a new random key.
    public init(issuer: String) {
        self.init(issuer: issuer, privateKey: Curve25519.Signing.PrivateKey())
    }

    /// A minter with a given key.
    public init(issuer: String, privateKey: Curve25519.Signing.PrivateKey) {
        self.issuer = issuer
        self.privateKey = privateKey
    }

    /// A minter with a raw 32-byte Ed25519 private key (seed).
    public init(issuer: String, rawPrivateKey: [UInt8]) throws(OrdersError) {
        do {
            self.init(issuer: issuer, privateKey: try Curve25519.Signing.PrivateKey(rawRepresentation: rawPrivateKey))
        } catch {
            throw .invalid("private_key", "an Ed25519 private key is 32 bytes")
        }
    }

    /// The public key a merchant registers to accept this issuer's coupons.
    public var issuerKey: CouponIssuerKey { CouponIssuerKey(issuer: issuer, publicKey: privateKey.publicKey) }

    /// The signed text form of `coupon` (see ``CouponEncoding``). Its issuer must be this minter's.
    public func mint(_ coupon: Coupon) throws(OrdersError) -> String {
        guard coupon.issuer == issuer else { throw .invalid("coupon.issuer", "this minter signs for '\(issuer)', not '\(coupon.issuer)'") }
        let payload = try CouponEncoding.payload(coupon)
        let signature: Data
        do {
            signature = try privateKey.signature(for: payload)
        } catch {
            throw OrdersError(code: .invalidArgument, message: "signing failed: \(error)", field: "coupon")
        }
        return CouponEncoding.text(payload: payload, signature: signature)
    }
}
