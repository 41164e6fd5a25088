import ParleyClient
import ParleyProtos
import ParleyWire

/// Capture ("buy now", seed 002): acceptance, then payment authorization and
/// capture of a 3-line order in the controller's three sub-transactions.
///
/// One operation is one `Orders/Capture` of a fresh order (a new order id
/// per call; see ``OrderMerchant``) with approval CAPTURE_IF_ACCEPTABLE,
/// paid by card 4242 4242 4242 4242 expiring 12/30 (Capture is idempotent
/// on the order id, so no idempotency key is sent). The order in the
/// response must be CAPTURED; otherwise it is a `bad_response` quoting the
/// order's failure code or the acceptance's amendment codes. With
/// `--ack-log`, each CAPTURED reply appends `captured <order-id> <auth-id>`.
///
/// ``prepare(client:options:)`` sets the merchant up as ``NegotiateScenario``
/// does; the stock top-up matters here, since captured orders use it up.
struct CaptureScenario: Scenario {
    static let name = "capture"
    static let summary = """
        parley.v1.Orders/Capture (CAPTURE_IF_ACCEPTABLE, by card) of a fresh 3-line order, which must be CAPTURED; \
        prepares the merchant as negotiate does (options under ORDER SCENARIOS)
        """

    let merchant: OrderMerchant
    private let ackLog: AckLog?

    init(options: ScenarioOptions) {
        merchant = OrderMerchant(settings: options.orders)
        ackLog = options.ackLog
    }

    func prepare(client: ParleyClient, options: CallOptions) async throws {
        try await merchant.prepare(client: client, options: options, scenario: Self.name)
    }

    func call(client: ParleyClient, sequence: UInt64, options: CallOptions) async throws {
        let request = merchant.order(sequence: sequence, approval: .captureIfAcceptable)
        let response = try await client.unary(OrderMerchant.capture, request, as: Parley_V1_CaptureResponse.self, options: options)
        guard response.hasOrder else {
            throw ScenarioCheckFailure(
                "Capture of \(request.orderID) wrote no order: acceptance \(response.acceptance.status), \(OrderMerchant.describe(response.acceptance.amendments))"
            )
        }
        let order = response.order
        guard order.state == .captured else {
            let reason = order.failureCode.isEmpty
                ? OrderMerchant.describe(response.acceptance.amendments)
                : "\(order.failureCode): \(order.failureMessage)"
            throw ScenarioCheckFailure("Capture of \(request.orderID) left the order \(order.state), not CAPTURED (\(reason))")
        }
        guard order.orderID == request.orderID else {
            throw ScenarioCheckFailure("Capture of \(request.orderID) answered order '\(order.orderID)'")
        }
        try ackLog?.append(.captured, "\(order.orderID) \(order.authorizationID)")
    }
}
