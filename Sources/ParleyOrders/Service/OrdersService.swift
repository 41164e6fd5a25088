import ParleyPKI
import ParleyProtos
import ParleyServer
import ParleyWire

/// `parley.v1.Orders`: the order acceptance pipeline on the wire.
///
/// Capture is idempotent on the agent's order id (not on an
/// `idempotency-key`): the same order id and request replay the first
/// outcome; another request under the same id is FAILED_PRECONDITION.
public struct OrdersService: RegistrableService {
    static func path(_ method: String) -> MethodPath { MethodPath(service: "parley.v1.Orders", method: method) }
    public static let negotiate = path("Negotiate")
    public static let capture = path("Capture")
    public static let getOrder = path("GetOrder")
    public static let listOrders = path("ListOrders")
    public static let listFraudEvents = path("ListFraudEvents")

    let orders: Orders

    public init(orders: Orders) { self.orders = orders }

    public func registerMethods(with router: inout Router) {
        let orders = self.orders
        router.registerUnary(Self.negotiate, roles: [.agent]) {
            (request: Parley_V1_OrderAcceptanceRequest, context: CallContext) -> Parley_V1_OrderAcceptanceResponse in
            try await orders.negotiate(request, agent: context.peer.principal)
        }
        router.registerUnary(
            Self.capture,
            roles: [.agent],
            handler: { (request: Parley_V1_OrderAcceptanceRequest, context: CallContext) -> CaptureReply in
                try await orders.captureReply(request, agent: context.peer.principal)
            },
            encode: { try $0.serializedBytes() }
        )
        router.registerUnary(Self.getOrder, roles: [.agent, .merchant, .admin]) {
            (request: Parley_V1_GetOrderRequest, context: CallContext) -> Parley_V1_Order in
            try await orders.order(id: request.orderID, agent: request.agent, caller: Self.caller(context))
        }
        router.registerUnary(Self.listOrders, roles: [.agent, .merchant, .admin]) {
            (request: Parley_V1_ListOrdersRequest, context: CallContext) -> Parley_V1_ListOrdersResponse in
            var response = Parley_V1_ListOrdersResponse()
            response.orders = try await orders.orders(
                caller: Self.caller(context), state: request.state, limit: request.limit == 0 ? 100 : Int(request.limit)
            )
            return response
        }
        router.registerUnary(Self.listFraudEvents, roles: [.merchant, .admin]) {
            (request: Parley_V1_ListFraudEventsRequest, context: CallContext) -> Parley_V1_ListFraudEventsResponse in
            var response = Parley_V1_ListFraudEventsResponse()
            response.events = try await orders.fraudEvents(
                merchant: request.merchant, afterID: request.afterID, limit: request.limit == 0 ? 100 : Int(request.limit),
                caller: Self.caller(context)
            )
            return response
        }
    }

    static func caller(_ context: CallContext) -> OrdersCaller {
        OrdersCaller(
            principal: context.peer.principal,
            isAgent: context.peer.roles.contains(.agent),
            isMerchant: context.peer.roles.contains(.merchant),
            isAdmin: context.peer.roles.contains(.admin)
        )
    }
}
