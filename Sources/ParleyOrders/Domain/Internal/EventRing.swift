/// One recorded request for one key: 24 bytes.
struct FraudEvent: Sendable, Hashable {
    var timestamp: Int64
    var amountMinorUnits: Int64
    var quantity: UInt32
    var currency: UInt16
    var outcome: UInt8
}

/// A ring buffer of events in arrival order, at most `capacity` long; its storage
/// grows only as events arrive and is freed when it empties. Pushing onto a full
/// ring drops the oldest event.
struct EventRing: Sendable {
    private(set) var storage: [FraudEvent] = []
    private var head = 0
    private(set) var count = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    var isEmpty: Bool { count == 0 }

    /// The oldest event.
    var first: FraudEvent? { count == 0 ? nil : storage[head] }

    /// The newest event.
    var last: FraudEvent? { count == 0 ? nil : storage[(head + count - 1) % storage.count] }

    /// Appends `event`, dropping the oldest when full.
    mutating func push(_ event: FraudEvent) {
        if count < storage.count {
            storage[(head + count) % storage.count] = event
            count += 1
        } else if storage.count < capacity {
            if head != 0 {
                storage = Array(storage[head...] + storage[..<head])
                head = 0
            }
            storage.append(event)
            count += 1
        } else {
            storage[head] = event
            head = (head + 1) % storage.count
        }
    }

    /// Removes the oldest event.
    mutating func popFirst() {
        guard count > 0 else { return }
        head = (head + 1) % storage.count
        count -= 1
        if count == 0 {
            storage = []
            head = 0
        }
    }

    /// Calls `body` for each event, newest first, until it returns false.
    func forEachNewestFirst(_ body: (FraudEvent) -> Bool) {
        var offset = count - 1
        while offset >= 0 {
            if !body(storage[(head + offset) % storage.count]) { return }
            offset -= 1
        }
    }
}
