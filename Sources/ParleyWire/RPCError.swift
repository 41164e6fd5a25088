public import ParleyProtos

/// The error a call ends with, on either end of the wire.
///
/// A struct with an extensible ``Code`` rather than a public enum, so that new
/// kinds of failure can be added without breaking callers. Domain errors are
/// mapped to an `RPCError` in exactly one place (``RPCErrorConvertible``).
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, in gRPC's numbering.
    public var code: Code
    /// A human-readable explanation. Never contains secrets (card numbers, keys).
    public var message: String
    /// The parts of the request that were wrong, and why.
    public var violations: [FieldViolation]
    /// When set, the earliest moment a retry may succeed.
    public var retryAfterMilliseconds: UInt32
    /// The underlying error, kept for logs; never sent on the wire.
    public var cause: (any Error & Sendable)?

    public init(
        code: Code,
        message: String,
        violations: [FieldViolation] = [],
        retryAfterMilliseconds: UInt32 = 0,
        cause: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.violations = violations
        self.retryAfterMilliseconds = retryAfterMilliseconds
        self.cause = cause
    }

    /// An INVALID_ARGUMENT error naming one field.
    public static func invalidArgument(field: String, _ description: String) -> RPCError {
        RPCError(
            code: .invalidArgument,
            message: "\(field): \(description)",
            violations: [FieldViolation(field: field, description: description)]
        )
    }

    public var description: String {
        var text = "\(code): \(message)"
        for violation in violations { text += " [\(violation.field): \(violation.description)]" }
        if retryAfterMilliseconds > 0 { text += " (retry after \(retryAfterMilliseconds) ms)" }
        return text
    }

    public static func == (lhs: RPCError, rhs: RPCError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.violations == rhs.violations
            && lhs.retryAfterMilliseconds == rhs.retryAfterMilliseconds
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
        hasher.combine(violations)
        hasher.combine(retryAfterMilliseconds)
    }
}

extension RPCError {
    /// A status code, numbered as gRPC numbers them.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The number on the wire.
        public let rawValue: Int

        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let ok = Code(rawValue: 0)
        public static let cancelled = Code(rawValue: 1)
        public static let unknown = Code(rawValue: 2)
        public static let invalidArgument = Code(rawValue: 3)
        public static let deadlineExceeded = Code(rawValue: 4)
        public static let notFound = Code(rawValue: 5)
        public static let alreadyExists = Code(rawValue: 6)
        public static let permissionDenied = Code(rawValue: 7)
        public static let resourceExhausted = Code(rawValue: 8)
        public static let failedPrecondition = Code(rawValue: 9)
        public static let aborted = Code(rawValue: 10)
        public static let outOfRange = Code(rawValue: 11)
        public static let unimplemented = Code(rawValue: 12)
        public static let `internal` = Code(rawValue: 13)
        public static let unavailable = Code(rawValue: 14)
        public static let dataLoss = Code(rawValue: 15)
        public static let unauthenticated = Code(rawValue: 16)

        /// Every code gRPC defines, in order.
        public static let all: [Code] = (0...16).map(Code.init(rawValue:))

        /// The upper-case name used in logs, metrics and docs (`INVALID_ARGUMENT`).
        public var name: String {
            switch rawValue {
            case 0: "OK"
            case 1: "CANCELLED"
            case 2: "UNKNOWN"
            case 3: "INVALID_ARGUMENT"
            case 4: "DEADLINE_EXCEEDED"
            case 5: "NOT_FOUND"
            case 6: "ALREADY_EXISTS"
            case 7: "PERMISSION_DENIED"
            case 8: "RESOURCE_EXHAUSTED"
            case 9: "FAILED_PRECONDITION"
            case 10: "ABORTED"
            case 11: "OUT_OF_RANGE"
            case 12: "UNIMPLEMENTED"
            case 13: "INTERNAL"
            case 14: "UNAVAILABLE"
            case 15: "DATA_LOSS"
            case 16: "UNAUTHENTICATED"
            default: "CODE_\(rawValue)"
            }
        }

        public var description: String { name }
    }
}

/// One wrong part of a request: a path into it and what is wrong there.
public struct FieldViolation: Sendable, Hashable {
    /// A path into the request, for example `lines[2].quantity`.
    public var field: String
    public var description: String

    public init(field: String, description: String) {
        self.field = field
        self.description = description
    }
}

/// A domain error that knows how it appears on the wire.
///
/// Subsystems make their errors conform; the server maps any other error to
/// INTERNAL without revealing its text.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError: RPCErrorConvertible {
    public var rpcError: RPCError { self }
}

// MARK: - Wire status

extension RPCError {
    /// Reads a non-OK wire status. Returns nil for OK.
    public init?(status: Parley_Wire_V1_Status) {
        guard status.code != .ok else { return nil }
        self.init(
            code: Code(rawValue: status.code.rawValue),
            message: status.message,
            violations: status.violations.map { FieldViolation(field: $0.field, description: $0.description_p) },
            retryAfterMilliseconds: status.retryAfterMs
        )
    }

    /// The error as a wire status.
    public var status: Parley_Wire_V1_Status {
        var status = Parley_Wire_V1_Status()
        status.code = Parley_Wire_V1_Code(rawValue: code.rawValue) ?? .unknown
        status.message = message
        status.violations = violations.map { violation in
            var wire = Parley_Wire_V1_FieldViolation()
            wire.field = violation.field
            wire.description_p = violation.description
            return wire
        }
        status.retryAfterMs = retryAfterMilliseconds
        return status
    }
}

extension Parley_Wire_V1_Status {
    /// The OK status.
    public static let ok = Parley_Wire_V1_Status()
}
