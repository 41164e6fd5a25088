/// What the statistics hold for one key in one window.
public struct WindowTotals: Sendable, Hashable {
    /// Recorded requests.
    public var orders: Int64
    /// Units in them.
    public var units: Int64
    /// Money in them, in the currency asked about.
    public var amountMinorUnits: Int64

    /// Creates totals.
    public init(orders: Int64 = 0, units: Int64 = 0, amountMinorUnits: Int64 = 0) {
        self.orders = orders
        self.units = units
        self.amountMinorUnits = amountMinorUnits
    }
}

/// Rolling transaction statistics (FIG. 3): for each key (buyer, card fingerprint,
/// e-mail, IP address, postal code, item, item class), the recent requests with
/// their time, outcome, units and amount, answering "how many orders, units or
/// how much money in the last W milliseconds at time `now`".
///
/// A value type for use inside one actor; time is always passed in.
///
/// **Memory bound.** At most ``Limits/maximumKeys`` keys are tracked; recording a
/// new key beyond that evicts the least recently *recorded* key (LRU; queries do
/// not refresh recency). Each key keeps at most ``Limits/maximumEventsPerKey``
/// events in a ring buffer that grows on demand (the oldest is dropped when full)
/// and events older than ``Limits/retentionMilliseconds`` are dropped whenever
/// the key is recorded; ``evictExpired(now:)`` drops the keys whose newest
/// event is past the retention, from the least recently recorded end. An event is
/// 24 bytes, so the whole structure stays under about
/// `maximumKeys × (maximumEventsPerKey × 24 B + ~200 B)`: with the defaults
/// (65 536 keys × 32 events) about 64 MiB, and far less in practice.
///
/// **Exactness.** Counts are exact while a key has no more than
/// `maximumEventsPerKey` events within the queried window and the window is not
/// longer than the retention; ``FraudRule/validate(index:against:)`` refuses
/// order-count rules that could exceed that. An evicted key starts again from zero.
///
/// **Snapshots.** Captured orders are durable, so their events are rebuilt
/// from the orders table at start-up; quote-only and rejected events exist
/// only here. The structure notes which keys gained such events (and which
/// keys that had them were dropped) so that ``takeChanges()`` hands a
/// snapshot writer only what changed since the last call, and
/// ``restore(key:event:)`` puts them back after a restart.
public struct FraudStatistics: Sendable {
    /// The bounds of the structure.
    public struct Limits: Sendable, Hashable {
        /// The most keys tracked at once.
        public var maximumKeys: Int
        /// The most events kept per key.
        public var maximumEventsPerKey: Int
        /// How long events are kept, in milliseconds (the longest window a rule may use).
        public var retentionMilliseconds: Int64

        /// Creates limits.
        public init(maximumKeys: Int, maximumEventsPerKey: Int, retentionMilliseconds: Int64) {
            self.maximumKeys = max(maximumKeys, 1)
            self.maximumEventsPerKey = max(maximumEventsPerKey, 1)
            self.retentionMilliseconds = max(retentionMilliseconds, 1)
        }

        /// 65 536 keys, 32 events per key, 7 days.
        public static var defaults: Limits {
            Limits(maximumKeys: 65_536, maximumEventsPerKey: 32, retentionMilliseconds: 7 * 86_400_000)
        }
    }

    private struct Slot: Sendable {
        var key: FraudKey
        var events: EventRing
        var newer: Int
        var older: Int
        /// Gained a quote-only or rejected event since the last ``takeChanges()``.
        var changed = false
        /// Its quote-only and rejected events may be in a snapshot: dropping
        /// the key must delete them there too.
        var snapshotted = false
    }

    /// A key's quote-only and rejected events as a snapshot holds them.
    public struct SnapshotEvent: Sendable, Hashable {
        /// Unix milliseconds.
        public var at: Int64
        public var outcome: FraudOutcome
        public var quantity: Int64
        public var amount: Money

        /// Creates an event.
        public init(at: Int64, outcome: FraudOutcome, quantity: Int64, amount: Money) {
            self.at = at
            self.outcome = outcome
            self.quantity = quantity
            self.amount = amount
        }
    }

    /// What a snapshot must change for one key: its quote-only and rejected
    /// events, oldest first, or none (the key's snapshot entry is deleted).
    public struct SnapshotChange: Sendable, Hashable {
        public var key: FraudKey
        public var events: [SnapshotEvent]
    }

    /// The bounds in force.
    public let limits: Limits
    private var slots: [Slot] = []
    private var freeSlots: [Int] = []
    private var slotByKey: [FraudKey: Int] = [:]
    private var newest = -1
    private var oldest = -1
    private var currencies: [CurrencyCode] = []
    private var currencyIndex: [CurrencyCode: UInt16] = [:]
    /// Slots marked `changed` (an index may repeat, or be stale after its key was dropped).
    private var changedSlots: [Int] = []
    /// Snapshotted keys dropped since the last ``takeChanges()``.
    private var droppedKeys: Set<FraudKey> = []

    /// Empty statistics with `limits`.
    public init(limits: Limits = .defaults) {
        self.limits = limits
    }

    /// How many keys are tracked.
    public var trackedKeyCount: Int { slotByKey.count }

    /// How many events are held in all (O(tracked keys)).
    public var eventCount: Int { slotByKey.values.reduce(0) { $0 + slots[$1].events.count } }

    /// Records one request for `key` at `at` (Unix milliseconds).
    ///
    /// - Parameters:
    ///   - quantity: units (saturated to 2³²−1).
    ///   - amount: money; queries only add amounts in the currency they ask for.
    public mutating func record(key: FraudKey, outcome: FraudOutcome, quantity: Int64, amount: Money, at: Int64) {
        record(key: key, outcome: outcome, quantity: quantity, amount: amount, at: at, snapshot: true)
    }

    /// Records one request; a quote-only or rejected one marks the key
    /// changed for the next snapshot when `snapshot`.
    mutating func record(key: FraudKey, outcome: FraudOutcome, quantity: Int64, amount: Money, at: Int64, snapshot: Bool) {
        let slot = insert(key: key, outcome: outcome, quantity: quantity, amount: amount, at: at)
        if outcome != .accepted, snapshot { markChanged(slot) }
    }

    /// Puts back a quote-only or rejected event read from a snapshot (events
    /// are to be restored oldest first, among the accepted ones rebuilt from
    /// orders). The key is not marked changed: the snapshot already holds it.
    public mutating func restore(key: FraudKey, event: SnapshotEvent) {
        let slot = insert(key: key, outcome: event.outcome, quantity: event.quantity, amount: event.amount, at: event.at)
        slots[slot].snapshotted = true
    }

    /// The quote-only and rejected events of every key that gained one since
    /// the last call, and a deletion for every snapshotted key dropped since
    /// (deletions first: a key dropped and recorded again is written again).
    public mutating func takeChanges() -> [SnapshotChange] {
        var changes = droppedKeys.map { SnapshotChange(key: $0, events: []) }
        droppedKeys = []
        for slot in changedSlots where slots[slot].changed {
            slots[slot].changed = false
            var events: [SnapshotEvent] = []
            slots[slot].events.forEachNewestFirst { event in
                if event.outcome != FraudOutcome.accepted.rawValue, let outcome = FraudOutcome(rawValue: event.outcome), Int(event.currency) < currencies.count {
                    events.append(SnapshotEvent(
                        at: event.timestamp, outcome: outcome, quantity: Int64(event.quantity),
                        amount: Money(minorUnits: event.amountMinorUnits, currency: currencies[Int(event.currency)])
                    ))
                }
                return true
            }
            guard !events.isEmpty || slots[slot].snapshotted else { continue }
            slots[slot].snapshotted = !events.isEmpty
            changes.append(SnapshotChange(key: slots[slot].key, events: events.reversed()))
        }
        changedSlots = []
        return changes
    }

    /// Marks `keys` changed again (a snapshot write that failed): a key still
    /// tracked is written by the next ``takeChanges()``, a dropped one deleted.
    public mutating func markChanged(_ keys: [FraudKey]) {
        for key in keys {
            if let slot = slotByKey[key] {
                slots[slot].snapshotted = true
                markChanged(slot)
            } else {
                droppedKeys.insert(key)
            }
        }
    }

    /// Marks every tracked key of `kinds` changed: a merchant's rules have
    /// started counting quotes or refusals for them, so the events already
    /// held go into the next snapshot (O(tracked keys); on a set-up change).
    public mutating func markChanged(kinds: Set<FraudKeyKind>) {
        guard !kinds.isEmpty else { return }
        for (key, slot) in slotByKey where kinds.contains(key.kind) { markChanged(slot) }
    }

    private mutating func markChanged(_ slot: Int) {
        guard !slots[slot].changed else { return }
        slots[slot].changed = true
        changedSlots.append(slot)
        // Slots reused for new keys append their index again: past twice the
        // slots, rebuild the list from the flags, so it stays bounded by the
        // keys and not by the traffic between two snapshots.
        if changedSlots.count > 2 * max(slots.count, 64) {
            changedSlots = slots.indices.filter { slots[$0].changed }
        }
    }

    private mutating func insert(key: FraudKey, outcome: FraudOutcome, quantity: Int64, amount: Money, at: Int64) -> Int {
        let slot = touch(key)
        let cutoff = at &- limits.retentionMilliseconds
        while let first = slots[slot].events.first, first.timestamp <= cutoff { slots[slot].events.popFirst() }
        let event = FraudEvent(
            timestamp: at,
            amountMinorUnits: amount.minorUnits,
            quantity: UInt32(clamping: max(quantity, 0)),
            currency: intern(amount.currency),
            outcome: outcome.rawValue
        )
        slots[slot].events.push(event)
        return slot
    }

    /// Records a whole request under every key of `subject` (see
    /// ``FraudSubject/contributions``). Quote-only and rejected requests are
    /// marked for the snapshot under the keys of `snapshotKinds` only (nil:
    /// every kind), those some rule counts them for.
    public mutating func record(_ subject: FraudSubject, outcome: FraudOutcome, at: Int64, snapshotKinds: Set<FraudKeyKind>? = nil) {
        record(subject.contributions, outcome: outcome, at: at, snapshotKinds: snapshotKinds)
    }

    /// ``record(_:outcome:at:snapshotKinds:)`` with the subject's
    /// ``FraudSubject/contributions`` made already (outside a caller's lock).
    public mutating func record(
        _ contributions: [FraudSubject.Contribution],
        outcome: FraudOutcome,
        at: Int64,
        snapshotKinds: Set<FraudKeyKind>? = nil
    ) {
        for contribution in contributions {
            record(
                key: contribution.key, outcome: outcome, quantity: contribution.units, amount: contribution.amount, at: at,
                snapshot: snapshotKinds?.contains(contribution.key.kind) ?? true
            )
        }
    }

    /// The totals for `key` over the events with `now - windowMilliseconds < t <= now`
    /// whose outcome is in `outcomes`; amounts only in `currency` (zero if `nil`).
    public func totals(for key: FraudKey, windowMilliseconds: Int64, now: Int64, outcomes: Set<FraudOutcome>, currency: CurrencyCode? = nil) -> WindowTotals {
        guard let slot = slotByKey[key] else { return WindowTotals() }
        let start = now &- windowMilliseconds
        let wanted = outcomes.reduce(UInt8(0)) { $0 | 1 << $1.rawValue }
        let currencyCode = currency.flatMap { currencyIndex[$0] }
        var totals = WindowTotals()
        slots[slot].events.forEachNewestFirst { event in
            guard event.timestamp > start, event.timestamp <= now, wanted & (1 << event.outcome) != 0 else { return true }
            totals.orders += 1
            totals.units &+= Int64(event.quantity)
            if let currencyCode, event.currency == currencyCode { totals.amountMinorUnits &+= event.amountMinorUnits }
            return true
        }
        return totals
    }

    /// Drops the keys whose newest event is older than the retention at
    /// `now`, walking from the least recently recorded key and stopping at
    /// the first one still in use: O(keys dropped), so that a periodic call
    /// holds the caller's lock only briefly. The older events of keys still
    /// in use go when the key is next recorded (no query counts them: it only
    /// adds events within its window).
    public mutating func evictExpired(now: Int64) {
        let cutoff = now &- limits.retentionMilliseconds
        while oldest >= 0 {
            guard let newestEvent = slots[oldest].events.last, newestEvent.timestamp > cutoff else {
                remove(slots[oldest].key)
                continue
            }
            break
        }
    }

    // MARK: LRU list (index-linked, newest at the head)

    private mutating func touch(_ key: FraudKey) -> Int {
        if let slot = slotByKey[key] {
            unlink(slot)
            linkAsNewest(slot)
            return slot
        }
        if slotByKey.count >= limits.maximumKeys, oldest >= 0 {
            remove(slots[oldest].key)
        }
        let fresh = Slot(key: key, events: EventRing(capacity: limits.maximumEventsPerKey), newer: -1, older: -1)
        let slot: Int
        if let reused = freeSlots.popLast() {
            slots[reused] = fresh
            slot = reused
        } else {
            slots.append(fresh)
            slot = slots.count - 1
        }
        slotByKey[key] = slot
        linkAsNewest(slot)
        return slot
    }

    private mutating func remove(_ key: FraudKey) {
        guard let slot = slotByKey.removeValue(forKey: key) else { return }
        unlink(slot)
        if slots[slot].snapshotted { droppedKeys.insert(key) }
        slots[slot].changed = false
        slots[slot].snapshotted = false
        slots[slot].events = EventRing(capacity: 1)
        freeSlots.append(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let newer = slots[slot].newer, older = slots[slot].older
        if newer >= 0 { slots[newer].older = older } else { newest = older }
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
        slots[slot].newer = -1
        slots[slot].older = -1
    }

    private mutating func linkAsNewest(_ slot: Int) {
        slots[slot].older = newest
        slots[slot].newer = -1
        if newest >= 0 { slots[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func intern(_ currency: CurrencyCode) -> UInt16 {
        if let index = currencyIndex[currency] { return index }
        guard currencies.count < Int(UInt16.max) else { return .max }
        let index = UInt16(currencies.count)
        currencies.append(currency)
        currencyIndex[currency] = index
        return index
    }
}
