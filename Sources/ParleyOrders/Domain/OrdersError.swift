/// An error from the Orders domain rules: a code that can grow, a message for
/// people, and the path of the request field it is about, when there is one.
///
/// Errors are for inputs that cannot be evaluated at all (a malformed amount, a
/// currency mix, an overflow, an invalid table). Anything a client can fix by
/// changing its order acceptance request is reported as an ``Amendment`` instead.
public struct OrdersError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is. New codes can be added without breaking callers.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code as it appears on the wire, such as `QUANTITY_OVER_LIMIT`.
        public let rawValue: String
        /// A code from its wire name; prefer the static members.
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A field's value is malformed or out of range.
        public static let invalidArgument = Code(rawValue: "INVALID_ARGUMENT")
        /// Two amounts in different currencies were combined or compared.
        public static let currencyMismatch = Code(rawValue: "CURRENCY_MISMATCH")
        /// An amount does not fit in 64-bit minor units.
        public static let overflow = Code(rawValue: "OVERFLOW")
        /// Merchant configuration (catalog, rate or tax table, rules) is inconsistent.
        public static let invalidConfiguration = Code(rawValue: "INVALID_CONFIGURATION")
    }

    /// What kind of failure this is.
    public var code: Code
    /// A human-readable explanation; never contains a card number.
    public var message: String
    /// The request field the error is about, as a path such as `lines[2].quantity`.
    public var field: String?

    /// Creates an error.
    public init(code: Code, message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String {
        if let field { "\(code) \(field): \(message)" } else { "\(code): \(message)" }
    }

    /// A malformed or out-of-range field.
    public static func invalid(_ field: String, _ message: String) -> OrdersError {
        OrdersError(code: .invalidArgument, message: message, field: field)
    }

    /// Inconsistent merchant configuration at `field`.
    public static func configuration(_ field: String, _ message: String) -> OrdersError {
        OrdersError(code: .invalidConfiguration, message: message, field: field)
    }
}
