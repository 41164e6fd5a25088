import Logging
import ParleyWarehouse

/// `parleyd --demo`: a small data set for trying Parley by hand, loaded only
/// into an empty database (an existing one is never changed).
public enum DemoData {
    /// The demo merchant's principal (its certificate is issued into the
    /// development directory as `demo-merchant.pem`).
    public static let merchant = "demo-merchant"

    /// The demo merchant's stock: an outdoor shop.
    public static let stock: [(sku: String, units: Int64)] = [
        ("tent-2p", 40),
        ("sleeping-bag", 60),
        ("stove-compact", 25),
        ("fuel-canister", 200),
        ("headlamp", 120),
        ("water-filter", 35),
    ]

    /// Loads the data set unless the warehouse already holds stock. Returns whether it loaded.
    @discardableResult
    public static func load(into daemon: Daemon, logger: Logger) async throws -> Bool {
        let loader = WarehouseCaller(principal: "parleyd-demo", kinds: [.admin])
        let existing = try await daemon.warehouse.inventory(caller: loader, skus: [])
        guard existing.isEmpty else {
            logger.info("demo data not loaded: the database already has inventory")
            return false
        }
        _ = try await daemon.warehouse.allocate(
            merchant: merchant,
            adjustments: stock.map { InventoryAdjustmentRequest(sku: $0.sku, delta: $0.units, reason: "demo data") },
            caller: loader
        )
        logger.notice("demo data loaded", metadata: ["merchant": "\(merchant)", "skus": "\(stock.count)"])
        return true
    }
}
