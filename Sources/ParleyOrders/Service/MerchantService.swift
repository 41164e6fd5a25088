import ParleyPKI
import ParleyProtos
import ParleyServer
import ParleyWire

/// `parley.v1.Merchant`: a merchant's catalog and configuration on the wire.
/// A merchant acts on its own data; admin may name any merchant.
public struct MerchantService: RegistrableService {
    static func path(_ method: String) -> MethodPath { MethodPath(service: "parley.v1.Merchant", method: method) }
    public static let importCatalog = path("ImportCatalog")
    public static let getCatalogItem = path("GetCatalogItem")
    public static let listCatalog = path("ListCatalog")
    public static let applyConfiguration = path("ApplyConfiguration")
    public static let getConfiguration = path("GetConfiguration")

    let orders: Orders

    public init(orders: Orders) { self.orders = orders }

    public func registerMethods(with router: inout Router) {
        let orders = self.orders
        router.registerUnary(Self.importCatalog, roles: [.merchant, .admin], mutating: true) {
            (request: Parley_V1_ImportCatalogRequest, context: CallContext) -> Parley_V1_ImportCatalogResponse in
            let merchant = try Self.merchant(request.merchant, context)
            return try await orders.importCatalog(merchant: merchant, items: request.items, onCommit: context.outcomeRecorder { $0 })
        }
        router.registerUnary(Self.getCatalogItem, roles: [.merchant, .agent, .admin]) {
            (request: Parley_V1_GetCatalogItemRequest, context: CallContext) -> Parley_V1_CatalogItem in
            let merchant = request.merchant.isEmpty ? context.peer.principal : request.merchant
            guard let item = orders.catalogItem(merchant: merchant, sku: request.sku) else {
                throw OrdersError(code: .notFound, message: "no item '\(request.sku)' in the catalog of '\(merchant)'", field: "sku")
            }
            return item
        }
        router.registerUnary(Self.listCatalog, roles: [.merchant, .agent, .admin]) {
            (request: Parley_V1_ListCatalogRequest, context: CallContext) -> Parley_V1_ListCatalogResponse in
            let merchant = request.merchant.isEmpty ? context.peer.principal : request.merchant
            var response = Parley_V1_ListCatalogResponse()
            response.items = orders.catalogItems(merchant: merchant, after: request.afterSku, limit: request.limit == 0 ? 100 : Int(request.limit))
            return response
        }
        router.registerUnary(Self.applyConfiguration, roles: [.merchant, .admin], mutating: true) {
            (request: Parley_V1_ApplyConfigurationRequest, context: CallContext) -> Parley_V1_MerchantConfiguration in
            var configuration = request.configuration
            configuration.merchant = try Self.merchant(configuration.merchant, context)
            return try await orders.applyConfiguration(configuration, onCommit: context.outcomeRecorder { $0 })
        }
        router.registerUnary(Self.getConfiguration, roles: [.merchant, .admin]) {
            (request: Parley_V1_GetConfigurationRequest, context: CallContext) -> Parley_V1_MerchantConfiguration in
            let merchant = try Self.merchant(request.merchant, context)
            guard let configuration = orders.configuration(merchant: merchant) else {
                throw OrdersError(code: .notFound, message: "merchant '\(merchant)' has no catalog or configuration yet", field: "merchant")
            }
            return configuration
        }
    }

    /// The merchant a call acts for: the caller itself, or anyone for admin.
    static func merchant(_ named: String, _ context: CallContext) throws -> String {
        if named.isEmpty || named == context.peer.principal { return context.peer.principal }
        guard context.peer.roles.contains(.admin) else {
            throw OrdersError(code: .permissionDenied, message: "only admin may act for another merchant", field: "merchant")
        }
        return named
    }
}
