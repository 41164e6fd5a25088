import ParleyWire

/// Why the warehouse refused; each maps to one wire status.
public enum WarehouseError: Error, Sendable, Hashable, RPCErrorConvertible {
    /// The reservation's window passed.
    case expired(atMilliseconds: Int64)
    /// The reservation is CONFIRMED or RELEASED and cannot move.
    case notHeld(ReservationState)
    /// No such reservation visible to the caller (never says whether it exists).
    case reservationNotFound(String)
    /// Removing more units than are free.
    case insufficientFree(sku: String, requested: Int64, free: Int64, field: String)
    /// A request field is wrong.
    case invalid(field: String, description: String)
    /// The caller may not act for that merchant.
    case notYourMerchant(field: String)
    /// The agent already holds as many reservations as it may.
    case tooManyHeld(limit: Int)
    /// The agent's held reservations already hold `held` units; `requested` more would pass `limit`.
    case tooManyUnits(limit: Int64, held: Int64, requested: Int64)

    public var rpcError: RPCError {
        switch self {
        case .expired(let at):
            RPCError(code: .failedPrecondition, message: "the reservation expired at \(at) ms")
        case .notHeld(let state):
            RPCError(code: .failedPrecondition, message: "the reservation is \(state.rawValue), not HELD")
        case .reservationNotFound(let id):
            RPCError(code: .notFound, message: "no reservation '\(id)'")
        case .insufficientFree(let sku, let requested, let free, let field):
            RPCError(
                code: .failedPrecondition,
                message: "cannot remove \(requested) units of \(sku): only \(free) are free (held and sold units stay)",
                violations: [FieldViolation(field: field, description: "only \(free) units free")]
            )
        case .invalid(let field, let description):
            .invalidArgument(field: field, description)
        case .tooManyHeld(let limit):
            RPCError(
                code: .resourceExhausted,
                message: "this agent already holds \(limit) reservations, the most it may: confirm, release or let some lapse first"
            )
        case .tooManyUnits(let limit, let held, let requested):
            RPCError(
                code: .resourceExhausted,
                message: "this agent's held reservations hold \(held) units; \(requested) more would pass the \(limit) it may hold at once: confirm, release or let some lapse first"
            )
        case .notYourMerchant(let field):
            RPCError(
                code: .permissionDenied,
                message: "\(field): only the merchant itself (or admin) may change its inventory",
                violations: [FieldViolation(field: field, description: "not the caller's merchant")]
            )
        }
    }
}
