import Foundation
import GRDB
import Testing

@testable import ParleyOrders

/// The rolling fraud statistics' snapshots: what changed is handed over
/// once, dropped keys are deleted, restored events are not written again,
/// and the stored encoding round-trips.
@Suite("Fraud statistics snapshots")
struct FraudSnapshotTests {
    typealias F = Fixtures
    let t0 = Fixtures.wednesday

    func quote(_ statistics: inout FraudStatistics, _ value: String, at: Int64, outcome: FraudOutcome = .quoteOnly) {
        statistics.record(key: FraudKey(.ipAddress, value), outcome: outcome, quantity: 2, amount: F.usd(500), at: at)
    }

    @Test("only keys that gained quote-only or rejected events are handed over, with those events only, once")
    func changesOnce() {
        var statistics = FraudStatistics()
        quote(&statistics, "a", at: t0, outcome: .accepted)
        quote(&statistics, "a", at: t0 + 1)
        quote(&statistics, "a", at: t0 + 2, outcome: .rejected)
        quote(&statistics, "b", at: t0 + 3, outcome: .accepted)
        let changes = statistics.takeChanges()
        #expect(changes.map(\.key) == [FraudKey(.ipAddress, "a")])
        #expect(changes.first?.events == [
            .init(at: t0 + 1, outcome: .quoteOnly, quantity: 2, amount: F.usd(500)),
            .init(at: t0 + 2, outcome: .rejected, quantity: 2, amount: F.usd(500)),
        ])
        #expect(statistics.takeChanges().isEmpty)
        // An accepted event alone does not change a key's snapshot.
        quote(&statistics, "a", at: t0 + 4, outcome: .accepted)
        #expect(statistics.takeChanges().isEmpty)
    }

    @Test("a snapshotted key that is dropped (evicted, expired) is deleted; one never written is not")
    func droppedKeys() {
        var statistics = FraudStatistics(limits: .init(maximumKeys: 2, maximumEventsPerKey: 8, retentionMilliseconds: 10_000))
        quote(&statistics, "a", at: t0)
        _ = statistics.takeChanges()
        quote(&statistics, "b", at: t0 + 1)
        quote(&statistics, "c", at: t0 + 2) // evicts a (snapshotted) …
        quote(&statistics, "d", at: t0 + 3) // … and b (never written)
        let changes = statistics.takeChanges()
        #expect(changes.filter(\.events.isEmpty).map(\.key) == [FraudKey(.ipAddress, "a")])
        #expect(Set(changes.filter { !$0.events.isEmpty }.map(\.key.value)) == ["c", "d"])
        statistics.evictExpired(now: t0 + 20_000)
        #expect(Set(statistics.takeChanges().map(\.key.value)) == ["c", "d"])
        #expect(statistics.trackedKeyCount == 0)
    }

    @Test("restored events count again but are not handed over; a failed write's keys are handed over again")
    func restoreAndRetry() {
        var statistics = FraudStatistics()
        let key = FraudKey(.cardFingerprint, "fp-1")
        statistics.restore(key: key, event: .init(at: t0, outcome: .quoteOnly, quantity: 1, amount: F.usd(100)))
        #expect(statistics.takeChanges().isEmpty)
        #expect(statistics.totals(for: key, windowMilliseconds: 60_000, now: t0 + 1, outcomes: [.quoteOnly]).orders == 1)
        statistics.markChanged([key, FraudKey(.cardFingerprint, "gone")])
        let changes = statistics.takeChanges()
        #expect(changes.map(\.key.value) == ["gone", "fp-1"])
        #expect(changes.map(\.events.count) == [0, 1])
    }

    @Test("the stored encoding round-trips; a damaged one is refused")
    func codec() {
        let events: [FraudStatistics.SnapshotEvent] = [
            .init(at: t0, outcome: .quoteOnly, quantity: 3, amount: F.usd(-250)),
            .init(at: t0 + 5, outcome: .rejected, quantity: 4_000_000_000, amount: Money(minorUnits: Int64.max, currency: .cad)),
        ]
        let data = FraudSnapshotCodec.encode(events)
        #expect(data.count == 48)
        #expect(FraudSnapshotCodec.decode(data) == events)
        #expect(FraudSnapshotCodec.decode(data.dropLast()) == nil)
        var badOutcome = data
        badOutcome[20] = 9
        #expect(FraudSnapshotCodec.decode(badOutcome) == nil)
    }
}
