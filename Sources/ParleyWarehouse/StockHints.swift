import Synchronization

/// Each known SKU's free count as last seen (by ``Warehouse/availabilityNow(_:)``'s
/// reads, or in a reservation's refusal), for callers about to reserve, whom
/// the reservation itself checks (``Warehouse/availabilityBeforeReserving(_:)``).
/// Keys match byte for byte, as SQLite's do (``SkuKey/isBytewise(_:)``).
///
/// A count may be stale either way. That a SKU is known is never stale: its
/// row is never deleted, so a SKU seen known stays known.
final class StockHints: Sendable {
    /// The most counts kept; past it they start again empty.
    static let maximumEntries = 65_536

    private let free = Mutex<[SkuKey: Int64]>([:])

    /// Every item's last seen availability, if each is known and was last
    /// seen with at least its `wanted` units free; nil otherwise.
    func lookup(_ items: [(merchant: String, sku: String, wanted: Int64)]) -> [SkuAvailability]? {
        free.withLock { free -> [SkuAvailability]? in
            var result: [SkuAvailability] = []
            result.reserveCapacity(items.count)
            for item in items {
                guard let count = free.bytewise(SkuKey(merchant: item.merchant, sku: item.sku)), count >= item.wanted else { return nil }
                result.append(SkuAvailability(merchant: item.merchant, sku: item.sku, known: true, free: count))
            }
            return result
        }
    }

    /// Keeps `counts` (merchant, SKU, free units) as the latest seen.
    func note(_ counts: some Sequence<(merchant: String, sku: String, free: Int64)>) {
        free.withLock { free in
            for count in counts {
                let key = SkuKey(merchant: count.merchant, sku: count.sku)
                if free.count >= Self.maximumEntries, free[key] == nil { free.removeAll(keepingCapacity: true) }
                free.setBytewise(key, count.free)
            }
        }
    }
}
