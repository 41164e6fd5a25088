import Synchronization

/// Held reservations exactly as committed, for the writer: a confirm, release,
/// extend or expiry takes the reservation from here instead of reading it
/// back (a join of the reservation and its lines, about 6 % of the writer
/// thread's time under the reserve benchmark; docs/benchmarks.md, session 12).
///
/// What keeps it exact, with every change of a reservation made by the
/// single writer thread:
/// - a reservation is added only once the batch that held it has committed
///   (``BatchedWriter/afterCommit(of:_:)``, which runs before the next batch
///   starts), so a rolled-back hold is never here;
/// - every change of a reservation takes it out first, inside the write
///   that changes it (``take(_:)``, ``forget(_:)``), so what stays here is
///   never older than the database, whether that write commits or not.
///
/// A reservation missing from here is read from the database, as before.
final class HeldReservations: Sendable {
    /// The most reservations kept; past it the cache starts again empty
    /// (holds are short-lived, and a miss costs one read).
    static let maximumEntries = 16_384

    private struct State {
        var records: [String: ReservationRecord] = [:]
        /// Reservations held by the write running now, whose caller's hook
        /// runs (see ``watching(_:_:)``), as that write made them; taken out
        /// when something changes them.
        var watched: [String: ReservationRecord] = [:]
    }

    private let state = Mutex(State())

    /// Keeps `record`, committed HELD.
    func remember(_ record: ReservationRecord) {
        state.withLock { state in
            if state.records.count >= Self.maximumEntries { state.records.removeAll(keepingCapacity: true) }
            state.records[record.id] = record
        }
    }

    /// The reservation `id` if it is kept (committed, or held by the write
    /// running now and seen from its own hook), no longer kept afterwards:
    /// call it only in a write about to change it (or to find it unchanged).
    func take(_ id: String) -> ReservationRecord? {
        state.withLock { state in
            let watched = state.watched.removeValue(forKey: id)
            return state.records.removeValue(forKey: id) ?? watched
        }
    }

    /// Stops keeping `id`, which a write is about to change.
    func forget(_ id: String) {
        _ = take(id)
    }

    /// Runs `body` (the hook of the write that just held `record`) and
    /// tells whether it left the reservation unchanged, so that it may be
    /// kept once committed. Meanwhile a change the hook makes in the same
    /// write (a capture's confirm) takes the record from here instead of
    /// reading it back.
    func watching(_ record: ReservationRecord, _ body: () throws -> Void) throws -> Bool {
        state.withLock { $0.watched[record.id] = record }
        do {
            try body()
        } catch {
            state.withLock { _ = $0.watched.removeValue(forKey: record.id) }
            throw error
        }
        return state.withLock { $0.watched.removeValue(forKey: record.id) != nil }
    }

    /// How many are kept (for tests).
    var count: Int { state.withLock { $0.records.count } }
}
