import ParleyStore
import Synchronization

/// Free counts that ``Warehouse/availabilityNow(_:)`` read, kept while they
/// cannot have changed: until a batch of writes ends (the store's
/// ``BatchedWriter/batchesEnded`` moves on; every change of stock is such a
/// write) and until the next held reservation lapses (which frees units
/// without a write). Negotiations then read stock from memory instead of
/// from SQLite, which measured about 10 % of the daemon's CPU per
/// Negotiate (docs/benchmarks.md, session 9).
///
/// A count is stored with the number of batches ended before it was read:
/// a batch that ended while it was read makes it stale at once.
final class StockCache: Sendable {
    private struct State {
        var version: UInt64 = 0
        /// The version misses last saw, and since when (see ``isQuiet(version:now:)``).
        var seen: (version: UInt64, since: Int64) = (.max, 0)
        var validUntil = Int64.max
        /// nil: a SKU the warehouse does not know.
        var free: [SkuKey: Int64?] = [:]
    }

    /// The most counts kept; past it the cache starts again empty.
    static let maximumEntries = 65_536

    private let state = Mutex(State())

    /// Every item's availability, if each is known as of `version` and `now`.
    func lookup(_ items: [(merchant: String, sku: String)], version: UInt64, now: Int64) -> [SkuAvailability]? {
        state.withLock { state -> [SkuAvailability]? in
            guard state.version == version, now < state.validUntil else { return nil }
            var result: [SkuAvailability] = []
            result.reserveCapacity(items.count)
            for item in items {
                guard let free = state.free.bytewise(SkuKey(merchant: item.merchant, sku: item.sku)) else { return nil }
                result.append(SkuAvailability(merchant: item.merchant, sku: item.sku, known: free != nil, free: free ?? 0))
            }
            return result
        }
    }

    /// How long no batch may have ended before counts are read for the cache.
    static let quietMilliseconds: Int64 = 100

    /// Whether no batch has ended for ``quietMilliseconds`` (as far as
    /// misses saw): only then are counts worth reading for the cache. Under
    /// steady writes (Capture) the cache would never hit, and reading the
    /// next expiry it needs measured about 10 % more CPU per call.
    func isQuiet(version: UInt64, now: Int64) -> Bool {
        state.withLock { state in
            guard state.seen.version == version else {
                state.seen = (version, now)
                return false
            }
            return now - state.seen.since >= Self.quietMilliseconds
        }
    }

    /// Keeps counts read at `now`, after `version` batches had ended, valid
    /// before `validUntil`.
    func store(_ availability: [SkuAvailability], version: UInt64, now: Int64, validUntil: Int64) {
        state.withLock { state in
            if version > state.version || now >= state.validUntil || state.free.count + availability.count > Self.maximumEntries {
                state = State(version: max(version, state.version), seen: state.seen)
            }
            // Read before a later batch ended: already stale.
            guard version == state.version else { return }
            state.validUntil = min(state.validUntil, validUntil)
            for item in availability {
                state.free.setBytewise(SkuKey(merchant: item.merchant, sku: item.sku), item.known ? item.free : Int64?.none)
            }
        }
    }
}
