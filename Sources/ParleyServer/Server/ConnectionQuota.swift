import Synchronization

/// Open connections per key (a source address, a principal), each key
/// allowed at most `limit` at once.
final class ConnectionQuota<Key: Hashable & Sendable>: Sendable {
    let limit: Int
    private let open = Mutex<[Key: Int]>([:])

    init(limit: Int) {
        precondition(limit >= 1)
        self.limit = limit
    }

    /// Counts one more connection for `key`, unless `limit` are open.
    func take(_ key: Key) -> Bool {
        open.withLock { open in
            let count = open[key, default: 0]
            guard count < limit else { return false }
            open[key] = count + 1
            return true
        }
    }

    /// One connection `take(_:)` counted for `key` has closed.
    func release(_ key: Key) {
        open.withLock { open in
            guard let count = open[key] else { return }
            open[key] = count > 1 ? count - 1 : nil
        }
    }

    /// Open connections counted for `key`.
    func count(_ key: Key) -> Int { open.withLock { $0[key, default: 0] } }
}

/// One count in a quota, given back exactly once, by whichever of its
/// holders gets there first (the handshake's end, or the connection's).
final class QuotaSlot: Sendable {
    private let released = Atomic<Bool>(false)
    private let giveBack: @Sendable () -> Void

    init(_ giveBack: @escaping @Sendable () -> Void) {
        self.giveBack = giveBack
    }

    func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        giveBack()
    }
}

/// Says when to log refused connections: the first at once, then at most
/// once a second with how many were refused meanwhile.
final class RefusalLog: Sendable {
    private let state = Mutex<(count: Int, last: ContinuousClock.Instant?)>((0, nil))

    /// The refusals since the last line, if a line is due now.
    func due() -> Int? {
        state.withLock { state in
            state.count += 1
            let now = ContinuousClock.now
            if let last = state.last, now - last < .seconds(1) { return nil }
            defer { state = (0, now) }
            return state.count
        }
    }
}
