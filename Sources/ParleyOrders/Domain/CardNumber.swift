import Crypto
import Foundation

/// A card network, told from the number's leading digits.
public enum CardBrand: String, Sendable, Hashable {
    /// Visa.
    case visa
    /// Mastercard.
    case mastercard
    /// American Express.
    case amex
    /// Discover.
    case discover
    /// A network not recognized here (still accepted if it passes the Luhn check).
    case unknown
}

/// What may be kept about a card: never the number itself.
public struct CardSummary: Sendable, Hashable {
    /// A hex fingerprint of the number, for same-card matching (fraud statistics).
    public var fingerprint: String
    /// The last four digits, for receipts.
    public var lastFour: String
    /// The network.
    public var brand: CardBrand

    /// Creates a summary.
    public init(fingerprint: String, lastFour: String, brand: CardBrand) {
        self.fingerprint = fingerprint
        self.lastFour = lastFour
        self.brand = brand
    }
}

/// A validated primary account number, held only while a request is processed.
///
/// It is never stored, logged or echoed: its `description`, `debugDescription`
/// and reflection show only the last four digits, and it is neither `Codable`
/// nor `Hashable`. Keep its ``summary(key:)`` instead.
public struct CardNumber: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let digits: [UInt8]

    /// Validates `text` as a card number: spaces and hyphens are ignored; it must
    /// then be 12 to 19 ASCII digits that pass the Luhn check. Errors name `field`
    /// (such as `payment_instruments[0].card_number`) and never repeat the number.
    public init(validating text: String, field: String) throws(OrdersError) {
        var digits = [UInt8]()
        for byte in text.utf8 where byte != UInt8(ascii: " ") && byte != UInt8(ascii: "-") {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw .invalid(field, "a card number has only digits, spaces and hyphens")
            }
            digits.append(byte - UInt8(ascii: "0"))
        }
        guard (12...19).contains(digits.count) else {
            throw .invalid(field, "a card number has 12 to 19 digits, not \(digits.count)")
        }
        guard Self.passesLuhn(digits) else {
            throw .invalid(field, "the card number fails its check digit (Luhn); it was probably mistyped")
        }
        self.digits = digits
    }

    /// The Luhn (mod 10) check over digit values 0...9, rightmost digit first undoubled.
    public static func passesLuhn(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (position, digit) in digits.reversed().enumerated() {
            var value = Int(digit)
            if position % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }

    /// The last four digits.
    public var lastFour: String { String(digits.suffix(4).map { Character(String($0)) }) }

    /// The network, from the leading digits: Visa 4; Mastercard 51–55 and 2221–2720;
    /// American Express 34 and 37; Discover 6011, 644–649 and 65.
    public var brand: CardBrand {
        func prefix(_ count: Int) -> Int { digits.prefix(count).reduce(0) { $0 * 10 + Int($1) } }
        if digits.first == 4 { return .visa }
        if (51...55).contains(prefix(2)) || (2221...2720).contains(prefix(4)) { return .mastercard }
        if [34, 37].contains(prefix(2)) { return .amex }
        if prefix(4) == 6011 || (644...649).contains(prefix(3)) || prefix(2) == 65 { return .discover }
        return .unknown
    }

    /// A fingerprint: the first 16 bytes (32 hex digits) of SHA-256 over the ASCII
    /// digits, or of HMAC-SHA-256 with `key` when one is given.
    ///
    /// Prefer a key (a server secret, as DESIGN §3 says): an unkeyed hash of a card
    /// number can be reversed by trying the few billion numbers that share a known
    /// issuer prefix and last four digits.
    public func fingerprint(key: SymmetricKey? = nil) -> String {
        let ascii = digits.map { $0 + UInt8(ascii: "0") }
        let bytes: [UInt8] = if let key {
            Array(HMAC<SHA256>.authenticationCode(for: ascii, using: key))
        } else {
            Array(SHA256.hash(data: ascii))
        }
        return Hex.encode(bytes.prefix(16))
    }

    /// What may be kept: fingerprint, last four digits, brand.
    public func summary(key: SymmetricKey? = nil) -> CardSummary {
        CardSummary(fingerprint: fingerprint(key: key), lastFour: lastFour, brand: brand)
    }

    /// The number for the payment processor only: never store or log it.
    public var digitsForProcessor: String { String(digits.map { Character(String($0)) }) }

    public var description: String { "card ending \(lastFour)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["lastFour": lastFour]) }
}
