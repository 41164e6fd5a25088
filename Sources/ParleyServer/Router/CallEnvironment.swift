import Logging
import ParleyWire

/// What every invocation shares: the idempotency gate and the error mapping.
struct CallEnvironment: Sendable {
    let idempotency: IdempotencyGate?
    let logger: Logger

    /// The one mapping from any error a handler throws to a wire status.
    /// Domain errors say how they appear (``RPCErrorConvertible``); anything
    /// else is INTERNAL, with its text kept in the log and off the wire.
    func mapError(_ error: any Error, context: CallContext) -> RPCError {
        if let convertible = error as? any RPCErrorConvertible {
            return convertible.rpcError
        }
        if error is CancellationError {
            return RPCError(code: .cancelled, message: "the call was cancelled")
        }
        context.logger.error(
            "handler failed with an unmapped error",
            metadata: ["method": "\(context.method)", "error": "\(String(reflecting: error))"]
        )
        return RPCError(code: .internal, message: "internal error (request-id \(context.requestID ?? "none"))")
    }
}
