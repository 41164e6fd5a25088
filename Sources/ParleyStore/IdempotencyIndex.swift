import Crypto
import Foundation
import Synchronization

/// Which stored row holds the outcome of each (principal, method, key), kept
/// in memory so that the common case — a key never used before — is answered
/// without touching the database.
///
/// The table it indexes is append-only (rows in commit order, no index of
/// its own), because a B-tree keyed by random idempotency keys costs one
/// random page write per call, which measured as the largest single cost of
/// a durable call (docs/benchmarks.md). The index is rebuilt from the table
/// when the database opens and updated when a transaction that stored an
/// outcome commits, before its caller resumes.
///
/// An entry is a hint, never the answer: a lookup reads the row it points to
/// and checks principal, method and key, so an entry left by a rolled-back
/// savepoint (whose row id a later row may reuse) is simply a miss. What must
/// never happen — a committed outcome missing from the index — cannot: the
/// entry is added once the transaction has committed, on the writer, before
/// the batch's callers resume (``BatchedWriter/afterCommit(of:_:)``, or
/// GRDB's `afterNextTransaction` for a write outside a batch). Memory: about 80 bytes per retained outcome.
final class IdempotencyIndex: Sendable {
    /// 128 bits of SHA-256 over the scope: collisions are not a concern.
    struct Scope: Hashable, Sendable {
        let high: UInt64
        let low: UInt64

        init(principal: String, method: String, key: String) {
            var hasher = SHA256()
            for part in [principal, method, key] {
                hasher.update(data: Data(part.utf8))
                hasher.update(data: [0])
            }
            var high: UInt64 = 0
            var low: UInt64 = 0
            for (index, byte) in hasher.finalize().prefix(16).enumerated() {
                if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
            }
            self.high = high
            self.low = low
        }
    }

    private struct Entry {
        let scope: Scope
        let rowID: Int64
        let createdAtMilliseconds: Int64
    }

    private struct State: ~Copyable {
        var rows: [Scope: Int64] = [:]
        /// Entries in the order they were added (row order), for expiry.
        var order: [Entry] = []
        /// Where `order` really starts; the prefix before it is compacted lazily.
        var head = 0
    }

    private let state = Mutex(State())

    /// The row holding the newest outcome for `scope`, if any.
    func rowID(for scope: Scope) -> Int64? {
        state.withLock { $0.rows[scope] }
    }

    func insert(_ scope: Scope, rowID: Int64, createdAtMilliseconds: Int64) {
        state.withLock { state in
            state.rows[scope] = rowID
            state.order.append(Entry(scope: scope, rowID: rowID, createdAtMilliseconds: createdAtMilliseconds))
        }
    }

    /// Forgets entries created before `oldest` and returns the highest row id
    /// among them (the rows up to it may be deleted), or nil if none were.
    func expire(before oldest: Int64) -> Int64? {
        state.withLock { state in
            var highest: Int64?
            while state.head < state.order.count, state.order[state.head].createdAtMilliseconds < oldest {
                let entry = state.order[state.head]
                if state.rows[entry.scope] == entry.rowID { state.rows[entry.scope] = nil }
                highest = max(highest ?? entry.rowID, entry.rowID)
                state.head += 1
            }
            if state.head > 4096, state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
            return highest
        }
    }
}
