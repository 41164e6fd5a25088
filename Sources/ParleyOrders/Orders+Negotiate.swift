import ParleyProtos
import ParleyStore

extension Orders {
    /// The merchant's opinion of an order ("recalculate"): the order as it
    /// would be accepted, and amendments with their alternatives. Reads no
    /// table and writes nothing.
    public nonisolated func negotiate(_ request: Parley_V1_OrderAcceptanceRequest) throws -> Parley_V1_OrderAcceptanceResponse {
        try Self.validateName(request.merchant, field: "merchant")
        guard let setup = setup(for: request.merchant) else {
            throw OrdersError(code: .notFound, message: "merchant '\(request.merchant)' has no catalog here", field: "merchant")
        }
        let controller = OrderAcceptanceController(setup: setup, now: clock.nowMilliseconds, cardKey: cardKey)
        return try controller.evaluate(request)
    }
}
