import ParleyProtos
import ParleyStore
import ParleyWarehouse

extension Orders {
    /// The merchant's opinion of an order ("recalculate"): the order as it
    /// would be accepted, amendments with their alternatives, and a quote id
    /// for Capture. Writes no order and charges nothing; with the merchant's
    /// reserve-on-quote, an acceptable order's stock-tracked lines are held
    /// until the quote lapses; sending the previous `quote_id` with a new
    /// Negotiate of the same order releases that quote's hold. The fraud
    /// statistics record it as a quote.
    public nonisolated func negotiate(_ request: Parley_V1_OrderAcceptanceRequest, agent: String) async throws -> Parley_V1_OrderAcceptanceResponse {
        let setup = try setup(forRequest: request)
        let now = clock.nowMilliseconds
        // The previous quote of this order, if the client sent it: its held
        // units count as free for this evaluation.
        let previous = request.quoteID.isEmpty ? nil : QuoteToken.decode(request.quoteID, key: quoteKey).flatMap { token in
            token.agent == agent && token.merchant == setup.merchant && token.orderID == request.orderID
                && token.expiresAtMilliseconds > now ? token : nil
        }
        let controller = OrderAcceptanceController(setup: setup, now: now, cardKey: cardKey)
        let acceptance = try await controller.evaluate(
            request, agent: agent, plugins: plugins, isCapture: false, quotedHolds: previous?.holds ?? []
        )
        recordFraud(acceptance, outcome: .quoteOnly, at: now)
        var response = acceptance.response
        // Negotiating again with the previous quote id replaces that quote:
        // its hold is released, so repeated quotes do not pile up holds.
        if let warehouse, let previous, !previous.reservationID.isEmpty {
            _ = try? await warehouse.release(id: previous.reservationID, caller: Self.system)
        }
        var token = QuoteToken(
            agent: agent, merchant: setup.merchant, orderID: request.orderID,
            linesDigest: QuoteToken.linesDigest(request.lines),
            expiresAtMilliseconds: now + Int64(setup.quoteSeconds) * 1000,
            reservationID: "", holds: []
        )
        if response.status == .acceptable, setup.reserveOnQuote, let warehouse, !acceptance.holds.isEmpty {
            let outcome = try await warehouse.reserve(
                owner: agent,
                lines: acceptance.holds,
                holdSeconds: min(setup.quoteSeconds, warehouse.configuration.maxHoldSeconds),
                reference: "quote:\(request.orderID)"
            )
            switch outcome {
            case .reserved(let record):
                token.reservationID = record.id
                token.holds = acceptance.holds
                token.expiresAtMilliseconds = min(token.expiresAtMilliseconds, record.expiresAtMilliseconds)
                response.reservationID = record.id
                response.reservationExpiresAtMs = record.expiresAtMilliseconds
            case .shortage(let shortages):
                // The stock went between the check and the hold.
                response = Self.amended(response, with: InventoryPlugin.shortages(
                    after: shortages, lines: acceptance.plugins.lines, lineCount: request.lines.count, currency: setup.currency
                ))
            }
        }
        response.quoteID = token.encoded(key: quoteKey)
        response.quoteExpiresAtMs = token.expiresAtMilliseconds
        return response
    }

    /// The set-up of the request's merchant, or NOT_FOUND naming `merchant`.
    nonisolated func setup(forRequest request: Parley_V1_OrderAcceptanceRequest) throws -> MerchantSetup {
        try Self.validateName(request.merchant, field: "merchant")
        guard let setup = setup(for: request.merchant) else {
            throw OrdersError(code: .notFound, message: "merchant '\(request.merchant)' has no catalog here", field: "merchant")
        }
        return setup
    }
}
