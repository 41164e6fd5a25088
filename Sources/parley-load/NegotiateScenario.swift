import ParleyClient
import ParleyProtos
import ParleyWire

/// Negotiate ("recalculate", seed 002): the order acceptance controller's
/// full pipeline — item check, offers, coupons, address check, shipping,
/// tax, payment — on a 3-line order, without charging or writing anything.
///
/// One operation is one `Orders/Negotiate` of a fresh order (see
/// ``OrderMerchant`` for what the order holds) with approval QUOTE. The
/// response must be ACCEPTABLE for the order id sent; anything else is a
/// `bad_response` naming the amendments' codes.
///
/// ``prepare(client:options:)`` sets the merchant up over the wire first:
/// configuration, a catalog of `--catalog-items` items (imported once per
/// daemon), and stock for the `--stocked-skus` SKUs the orders use.
struct NegotiateScenario: Scenario {
    static let name = "negotiate"
    static let summary = """
        parley.v1.Orders/Negotiate of a 3-line order, which must be ACCEPTABLE; configures the merchant, imports \
        its --catalog-items catalog and stocks the SKUs orders use first (options under ORDER SCENARIOS)
        """

    let merchant: OrderMerchant

    init(options: ScenarioOptions) {
        merchant = OrderMerchant(settings: options.orders)
    }

    func prepare(client: ParleyClient, options: CallOptions) async throws {
        try await merchant.prepare(client: client, options: options, scenario: Self.name)
    }

    func call(client: ParleyClient, sequence: UInt64, options: CallOptions) async throws {
        let request = merchant.order(sequence: sequence, approval: .quote)
        let response = try await client.unary(OrderMerchant.negotiate, request, as: Parley_V1_OrderAcceptanceResponse.self, options: options)
        guard response.status == .acceptable else {
            throw ScenarioCheckFailure(
                "Negotiate of \(request.orderID) answered \(response.status), not ACCEPTABLE: \(OrderMerchant.describe(response.amendments))"
            )
        }
        guard response.orderID == request.orderID else {
            throw ScenarioCheckFailure("Negotiate of \(request.orderID) answered for order '\(response.orderID)'")
        }
    }
}
