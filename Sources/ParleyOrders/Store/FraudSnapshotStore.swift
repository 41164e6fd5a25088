import Foundation
import GRDB
import ParleyStore

/// One row of `orders_fraud_snapshot` as written or read.
struct FraudSnapshotRow: Sendable {
    var merchant: String
    var key: FraudKey
    /// Oldest first; empty means the row is deleted.
    var events: [FraudStatistics.SnapshotEvent]
}

/// A ``FraudSnapshotRow`` encoded before the write (the writer thread, the
/// serial section of every durable call, only binds).
struct EncodedFraudSnapshotRow: Sendable {
    var merchant: String
    var key: FraudKey
    /// nil: the row is deleted (the key holds no such events any more).
    var events: Data?
    /// The latest event's time, by which rows past the retention are pruned.
    var newestAtMilliseconds: Int64

    init(_ row: FraudSnapshotRow) {
        merchant = row.merchant
        key = row.key
        events = row.events.isEmpty ? nil : FraudSnapshotCodec.encode(row.events)
        newestAtMilliseconds = row.events.map(\.at).max() ?? 0
    }
}

/// The encoding of a key's snapshot events: 24 bytes each, oldest first —
/// time (Int64), amount in minor units (Int64), units (UInt32), all little
/// endian, the outcome (one byte) and the currency (three ASCII letters).
enum FraudSnapshotCodec {
    static let eventBytes = 24

    static func encode(_ events: [FraudStatistics.SnapshotEvent]) -> Data {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(events.count * eventBytes)
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        for event in events {
            append(event.at)
            append(event.amount.minorUnits)
            append(UInt32(clamping: max(event.quantity, 0)))
            bytes.append(event.outcome.rawValue)
            let currency = Array(event.amount.currency.rawValue.utf8)
            bytes.append(contentsOf: currency.count == 3 ? currency : Array("XXX".utf8))
        }
        return Data(bytes)
    }

    /// The events of `data`, or nil when it is not a whole number of valid
    /// quote-only or rejected events.
    static func decode(_ data: Data) -> [FraudStatistics.SnapshotEvent]? {
        let bytes = [UInt8](data)
        guard bytes.count % eventBytes == 0 else { return nil }
        func integer<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
            var value = T.zero
            for index in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: bytes[offset + index]) << (8 * index) }
            return value
        }
        var events: [FraudStatistics.SnapshotEvent] = []
        events.reserveCapacity(bytes.count / eventBytes)
        var offset = 0
        while offset < bytes.count {
            // Accepted events are rebuilt from orders, never snapshotted:
            // one here would be counted twice.
            guard let outcome = FraudOutcome(rawValue: bytes[offset + 20]), outcome != .accepted,
                let code = String(bytes: bytes[(offset + 21)..<(offset + 24)], encoding: .ascii),
                let currency = CurrencyCode(rawValue: code)
            else { return nil }
            events.append(FraudStatistics.SnapshotEvent(
                at: integer(Int64.self, at: offset),
                outcome: outcome,
                quantity: Int64(integer(UInt32.self, at: offset + 16)),
                amount: Money(minorUnits: integer(Int64.self, at: offset + 8), currency: currency)
            ))
            offset += eventBytes
        }
        return events
    }
}

/// The statements of `orders_fraud_snapshot`.
enum FraudSnapshotStore {
    /// Writes `rows` (deleting those without events).
    static func write(_ db: Database, _ rows: [EncodedFraudSnapshotRow]) throws {
        for row in rows {
            guard let events = row.events else {
                try db.executeDirect(sql: "DELETE FROM orders_fraud_snapshot WHERE merchant = ? AND key_kind = ? AND key_value = ?") { binder in
                    binder.bind(row.merchant)
                    binder.bind(row.key.kind.rawValue)
                    binder.bind(row.key.value)
                }
                continue
            }
            try db.executeDirect(
                sql: """
                    INSERT INTO orders_fraud_snapshot (merchant, key_kind, key_value, events, newest_at_ms) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (merchant, key_kind, key_value) DO UPDATE SET events = excluded.events, newest_at_ms = excluded.newest_at_ms
                    """
            ) { binder in
                binder.bind(row.merchant)
                binder.bind(row.key.kind.rawValue)
                binder.bind(row.key.value)
                binder.bind(events)
                binder.bind(row.newestAtMilliseconds)
            }
        }
    }

    /// Deletes rows whose newest event is at or before `cutoff`; returns how many.
    static func prune(_ db: Database, before cutoff: Int64) throws -> Int {
        try db.executeDirect(sql: "DELETE FROM orders_fraud_snapshot WHERE newest_at_ms <= ?") { binder in binder.bind(cutoff) }
    }

    /// Every row with an event after `cutoff`, its events after `cutoff`
    /// only. A row that does not decode is skipped and counted.
    static func rows(_ db: Database, after cutoff: Int64) throws -> (rows: [FraudSnapshotRow], unreadable: Int) {
        var rows: [FraudSnapshotRow] = []
        var unreadable = 0
        let cursor = try Row.fetchCursor(
            db,
            sql: "SELECT merchant, key_kind, key_value, events FROM orders_fraud_snapshot WHERE newest_at_ms > ?",
            arguments: [cutoff]
        )
        while let row = try cursor.next() {
            guard let events = FraudSnapshotCodec.decode(row[3]) else {
                unreadable += 1
                continue
            }
            let key = FraudKey(kind: FraudKeyKind(rawValue: row[1]), normalizedValue: row[2])
            rows.append(FraudSnapshotRow(merchant: row[0], key: key, events: events.filter { $0.at > cutoff }))
        }
        return (rows, unreadable)
    }
}
