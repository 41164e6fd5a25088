import ParleyPKI
import ParleyProtos
import ParleyServer
import ParleyWire

/// `parley.v1.Orders`: the order acceptance pipeline on the wire.
public struct OrdersService: RegistrableService {
    static func path(_ method: String) -> MethodPath { MethodPath(service: "parley.v1.Orders", method: method) }
    public static let negotiate = path("Negotiate")

    let orders: Orders

    public init(orders: Orders) { self.orders = orders }

    public func registerMethods(with router: inout Router) {
        let orders = self.orders
        router.registerUnary(Self.negotiate, roles: [.agent]) {
            (request: Parley_V1_OrderAcceptanceRequest, _: CallContext) -> Parley_V1_OrderAcceptanceResponse in
            try orders.negotiate(request)
        }
    }
}
