import Foundation
import GRDB
import ParleyStore
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

    @Test("a whole request is marked for the snapshot only under the key kinds a rule counts quotes or refusals for")
    func onlyCountedKinds() {
        var statistics = FraudStatistics()
        let priced = F.priced([.init(sku: "WID-1", quantity: 2)])
        let subject = FraudSubject(
            buyerID: "b-1", email: "pat@example.com", ipAddress: "203.0.113.9", cardFingerprint: "fp-1",
            postalCode: "98101", lines: priced.map(FraudLine.init), total: F.usd(priced[0].lineTotal.minorUnits)
        )
        statistics.record(subject, outcome: .quoteOnly, at: t0, snapshotKinds: [.cardFingerprint])
        #expect(statistics.takeChanges().map(\.key) == [FraudKey(.cardFingerprint, "fp-1")])
        statistics.record(subject, outcome: .rejected, at: t0 + 1, snapshotKinds: [])
        #expect(statistics.takeChanges().isEmpty)
        // Counted all the same.
        #expect(statistics.totals(for: FraudKey(.buyer, "b-1"), windowMilliseconds: 60_000, now: t0 + 2, outcomes: [.quoteOnly, .rejected]).orders == 2)
        // A rule starts counting buyers: their events go into the next snapshot.
        statistics.markChanged(kinds: [.buyer])
        let changes = statistics.takeChanges()
        #expect(changes.map(\.key) == [FraudKey(.buyer, "b-1")])
        #expect(changes.first?.events.count == 2)
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
        // Accepted events are rebuilt from orders: one in a snapshot would count twice.
        var accepted = data
        accepted[20] = FraudOutcome.accepted.rawValue
        #expect(FraudSnapshotCodec.decode(accepted) == nil)
    }

    @Test("heavy key churn between two snapshots: only the keys still tracked are written, every snapshotted one dropped is deleted")
    func churn() {
        var statistics = FraudStatistics(limits: .init(maximumKeys: 4, maximumEventsPerKey: 4, retentionMilliseconds: 86_400_000))
        for index in 0..<4 { quote(&statistics, "first-\(index)", at: t0 + Int64(index)) }
        #expect(statistics.takeChanges().count == 4)
        for index in 0..<1_000 { quote(&statistics, "churn-\(index)", at: t0 + 10 + Int64(index)) }
        let changes = statistics.takeChanges()
        #expect(Set(changes.filter(\.events.isEmpty).map(\.key.value)) == Set((0..<4).map { "first-\($0)" }))
        #expect(changes.filter { !$0.events.isEmpty }.map(\.key.value) == (996..<1_000).map { "churn-\($0)" })
    }

    @Test("snapshot rows read back under the same keys, a hashed postal code included, and only events within the retention")
    func storedKeys() async throws {
        let database = try ParleyDatabase.inMemory(migrations: OrdersSchema.migrations)
        let hashed = FraudKey(.postalCode, String(repeating: "9", count: 100))
        #expect(hashed.value.hasPrefix("sha256:"))
        let events: [FraudStatistics.SnapshotEvent] = [
            .init(at: t0, outcome: .quoteOnly, quantity: 1, amount: F.usd(100)),
            .init(at: t0 + 5_000, outcome: .rejected, quantity: 1, amount: F.usd(100)),
        ]
        let rows = [
            FraudSnapshotRow(merchant: "lamps", key: hashed, events: events),
            FraudSnapshotRow(merchant: "lamps", key: FraudKey(.email, "pat@example.com"), events: [events[0]]),
        ].map(EncodedFraudSnapshotRow.init)
        try await database.batchedWriter.write { db in try FraudSnapshotStore.write(db, rows) }
        let read = try await database.writer.read { db in try FraudSnapshotStore.rows(db, after: t0) }
        #expect(read.unreadable == 0)
        #expect(read.rows.map(\.key) == [hashed])
        #expect(read.rows.first?.events == [events[1]])
        #expect(try await database.batchedWriter.write { db in try FraudSnapshotStore.prune(db, before: t0) } == 1)
    }
}
