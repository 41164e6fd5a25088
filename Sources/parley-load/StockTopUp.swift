import ParleyClient
import ParleyProtos
import ParleyWire

/// Tops a merchant's SKUs up to a number of free units before the clock
/// starts: what `reserve`, `negotiate` and `capture` prepare with.
///
/// Reads every SKU's free units (GetAvailability, 1000 SKUs a call), then
/// allocates to each SKU with fewer than `target` free exactly the difference
/// (AllocateInventory, 1000 adjustments a call, each call with an idempotency
/// key of its own). A SKU that already has enough free is left alone, so
/// allocation, which is additive, never grows stock past the target and
/// repeated runs against one daemon do not grow it without bound.
struct StockTopUp: Sendable {
    /// Whose stock.
    let merchant: String
    let skus: [String]
    /// Free units each SKU is brought up to.
    let target: Int64
    /// The scenario's name: in errors and in each adjustment's reason.
    let scenario: String
    /// Prefixes the AllocateInventory calls' idempotency keys.
    let runID: String

    /// Most SKUs per GetAvailability call, and adjustments per AllocateInventory call.
    static let batchSize = 1000

    /// What ``run(client:options:)`` did.
    struct Result: Sendable {
        /// SKUs topped up.
        var adjusted = 0
        /// Of those, SKUs the warehouse did not know before.
        var unknown = 0
        var allocated: Int64 = 0
        var lookups = 0
        var calls = 0
    }

    func run(client: ParleyClient, options: CallOptions) async throws -> Result {
        var adjustments: [Parley_V1_InventoryAdjustment] = []
        var result = Result()
        for start in stride(from: 0, to: skus.count, by: Self.batchSize) {
            let batch = skus[start..<min(start + Self.batchSize, skus.count)]
            var request = Parley_V1_GetAvailabilityRequest()
            request.items = batch.map { sku in
                var item = Parley_V1_SkuRef()
                item.merchant = merchant
                item.sku = sku
                return item
            }
            let response: Parley_V1_GetAvailabilityResponse
            do {
                response = try await client.unary(ReserveScenario.getAvailability, request, options: options)
            } catch {
                throw LoadFailure("\(scenario): reading the stock of \(merchant) failed (GetAvailability): \(error)")
            }
            result.lookups += 1
            guard response.items.count == batch.count else {
                throw LoadFailure("\(scenario): GetAvailability answered \(response.items.count) items for \(batch.count) SKUs")
            }
            for (sku, item) in zip(batch, response.items) {
                guard item.sku == sku else {
                    throw LoadFailure("\(scenario): GetAvailability answered for \(item.sku) where \(sku) was asked")
                }
                if !item.known { result.unknown += 1 }
                let free = item.known ? max(item.free, 0) : 0
                guard free < target else { continue }
                var adjustment = Parley_V1_InventoryAdjustment()
                adjustment.sku = sku
                adjustment.delta = target - free
                adjustment.reason = "parley-load \(scenario): top up to \(target) free"
                adjustments.append(adjustment)
            }
        }
        result.adjusted = adjustments.count

        for start in stride(from: 0, to: adjustments.count, by: Self.batchSize) {
            var request = Parley_V1_AllocateInventoryRequest()
            request.merchant = merchant
            request.adjustments = Array(adjustments[start..<min(start + Self.batchSize, adjustments.count)])
            var callOptions = options
            callOptions.idempotencyKey = "\(runID)-allocate-\(result.calls)"
            do {
                _ = try await client.unary(ReserveScenario.allocateInventory, request, as: Parley_V1_AllocateInventoryResponse.self, options: callOptions)
            } catch {
                throw LoadFailure("\(scenario): allocating stock to \(merchant) failed (AllocateInventory): \(error)")
            }
            result.calls += 1
            result.allocated += request.adjustments.reduce(0) { $0 + $1.delta }
        }
        return result
    }

    /// What `result` did, in words, for the line a scenario prints.
    func describe(_ result: Result) -> String {
        result.adjusted == 0
            ? "all \(skus.count) SKUs already had at least \(target) free units; nothing allocated"
            : "topped up \(result.adjusted) of \(skus.count) SKUs (\(result.unknown) new) to \(target) free units: \(result.allocated) units in \(result.calls) AllocateInventory call(s)"
    }
}
