/// A kind of payment instrument a merchant may accept and an item may allow.
public struct PaymentKind: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The wire name, such as `card`.
    public let rawValue: String
    /// Creates a value from its name; prefer the static members.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A payment card (credit or debit), authorized through the payment processor.
    public static let card = PaymentKind(rawValue: "card")
    /// A gift certificate issued earlier (a signed serial with a stored balance).
    public static let giftCertificate = PaymentKind(rawValue: "gift_certificate")
    /// A prepaid account (tokens or a balance held with the merchant).
    public static let prepaidAccount = PaymentKind(rawValue: "prepaid_account")
    /// A purchase order: the buyer's organization is invoiced.
    public static let purchaseOrder = PaymentKind(rawValue: "purchase_order")

    /// The kinds the domain knows, in a stable order.
    public static let all: [PaymentKind] = [.card, .giftCertificate, .prepaidAccount, .purchaseOrder]

    /// A short name for people: `gift certificate`.
    public var displayName: String { rawValue.split(separator: "_").joined(separator: " ") }

    public var description: String { rawValue }
    public static func < (lhs: PaymentKind, rhs: PaymentKind) -> Bool { lhs.rawValue < rhs.rawValue }
}
