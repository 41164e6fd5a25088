import GRDB
import ParleyStore

/// A merchant's SKU, as a dictionary key.
struct SkuKey: Hashable {
    let merchant: String
    let sku: String

    /// Whether `other` is this key byte for byte. Swift's `==` (and so a
    /// dictionary lookup) takes canonically equivalent strings as equal
    /// ("é" as one scalar or as "e" and an accent), SQLite only the same
    /// bytes: a count kept under one form must not answer for the other.
    func isBytewise(_ other: SkuKey) -> Bool {
        merchant.utf8.elementsEqual(other.merchant.utf8) && sku.utf8.elementsEqual(other.sku.utf8)
    }
}

extension Dictionary where Key == SkuKey {
    /// The value stored under `key` byte for byte (see ``SkuKey/isBytewise(_:)``).
    func bytewise(_ key: SkuKey) -> Value? {
        guard let index = index(forKey: key), self[index].key.isBytewise(key) else { return nil }
        return self[index].value
    }

    /// Stores `value` under `key` as `key`'s bytes spell it.
    mutating func setBytewise(_ key: SkuKey, _ value: Value) {
        if let index = index(forKey: key), !self[index].key.isBytewise(key) { remove(at: index) }
        self[key] = value
    }
}

/// The warehouse's SQL, each function one step inside a caller's transaction.
enum Store {
    static func counters(_ db: Database, merchant: String, sku: String) throws -> SkuCounters? {
        try db.queryDirect(
            sql: "SELECT allocated, held, sold FROM warehouse_sku WHERE merchant = ? AND sku = ?",
            { binder in
                binder.bind(merchant)
                binder.bind(sku)
            },
            row: { SkuCounters(merchant: merchant, sku: sku, allocated: $0.int64(0), held: $0.int64(1), sold: $0.int64(2)) }
        ).first
    }

    static func allCounters(_ db: Database, merchant: String?) throws -> [SkuCounters] {
        let rows: [Row]
        if let merchant {
            rows = try Row.fetchAll(
                cached: db,
                sql: "SELECT merchant, sku, allocated, held, sold FROM warehouse_sku WHERE merchant = ? ORDER BY sku",
                arguments: [merchant]
            )
        } else {
            rows = try Row.fetchAll(cached: db, sql: "SELECT merchant, sku, allocated, held, sold FROM warehouse_sku ORDER BY merchant, sku")
        }
        return rows.map { SkuCounters(merchant: $0["merchant"], sku: $0["sku"], allocated: $0["allocated"], held: $0["held"], sold: $0["sold"]) }
    }

    /// Units still counted as held although their reservation's window has
    /// passed, per SKU (the sweeper keeps this short). One query for a whole
    /// availability call: the outer loop is the partial index of HELD
    /// reservations by expiry (CROSS JOIN fixes the order), so the cost is
    /// the number of lapsed reservations, never the number of lines.
    static let dueHeldSQL = """
        SELECT l.merchant, l.sku, l.quantity
        FROM warehouse_reservation r CROSS JOIN warehouse_reservation_line l ON l.reservation_id = r.id
        WHERE r.state = 'HELD' AND r.expires_at_ms <= ?
        """

    /// One SKU's free units at `?1`: its counters, with the units of its
    /// lapsed holds given back (the subquery walks the same partial index
    /// of HELD reservations by expiry as ``dueHeldSQL``).
    private static let freeNowColumn = """
        s.allocated - s.held - s.sold + COALESCE((
            SELECT SUM(l.quantity)
            FROM warehouse_reservation r CROSS JOIN warehouse_reservation_line l ON l.reservation_id = r.id
            WHERE r.state = 'HELD' AND r.expires_at_ms <= ?1 AND l.merchant = s.merchant AND l.sku = s.sku
        ), 0)
        """

    /// One SKU's free units at `?1` in one statement (see
    /// ``freeNowColumn``). No row: the SKU is unknown.
    static let freeNowSQL = "SELECT \(freeNowColumn) FROM warehouse_sku s WHERE s.merchant = ?2 AND s.sku = ?3"

    /// ``freeNowSQL`` and, second, the next moment any held reservation
    /// lapses (the due index's first entry after `?1`; `Int64.max` when none
    /// will), until which the count cannot change without a write. Only for
    /// a count to be cached (see ``StockCache``).
    static let freeNowWithNextExpirySQL = """
        SELECT \(freeNowColumn),
        COALESCE((SELECT MIN(expires_at_ms) FROM warehouse_reservation WHERE state = 'HELD' AND expires_at_ms > ?1), 9223372036854775807)
        FROM warehouse_sku s WHERE s.merchant = ?2 AND s.sku = ?3
        """

    static func dueHeld(_ db: Database, now: Int64) throws -> [SkuKey: Int64] {
        var lapsed: [SkuKey: Int64] = [:]
        let rows = try db.queryDirect(
            sql: dueHeldSQL,
            { $0.bind(now) },
            row: { (SkuKey(merchant: $0.string(0), sku: $0.string(1)), $0.int64(2)) }
        )
        for (key, quantity) in rows { lapsed[key, default: 0] += quantity }
        return lapsed
    }

    /// Writes down every lapsed reservation, so the transaction that follows
    /// sees their units free. Runs first in every transaction that decides on
    /// units; normally there is nothing due, as the sweeper keeps up.
    static func expireDue(_ db: Database, now: Int64, held: HeldReservations) throws {
        let due = try db.queryDirect(
            sql: "SELECT id FROM warehouse_reservation WHERE state = 'HELD' AND expires_at_ms <= ?",
            { $0.bind(now) },
            row: { $0.string(0) }
        )
        for id in due { try expire(db, reservationID: id, held: held) }
    }

    /// Marks a HELD reservation EXPIRED as of its expiry and frees its units.
    /// Returns whether it did (false: not found, or no longer HELD).
    @discardableResult
    static func expire(_ db: Database, reservationID id: String, held: HeldReservations) throws -> Bool {
        guard let stored = try held.take(id) ?? storedReservation(db, id: id), stored.state == .held else { return false }
        try move(db, reservation: stored, to: .expired, expiresAt: stored.expiresAtMilliseconds, movement: .expire, now: stored.expiresAtMilliseconds)
        return true
    }

    /// Applies a state change and its movement of units, with ledger entries.
    static func move(
        _ db: Database,
        reservation: ReservationRecord,
        to state: ReservationState,
        expiresAt: Int64,
        movement: ReservationStateMachine.Movement,
        now: Int64
    ) throws {
        let id = reservation.id
        switch movement {
        case .none:
            // Only a held reservation is extended; like the moves below, a
            // row that is no longer held means what was read is stale.
            let changed = try db.executeDirect(sql: "UPDATE warehouse_reservation SET expires_at_ms = ? WHERE id = ? AND state = 'HELD'") { binder in
                binder.bind(expiresAt)
                binder.bind(id)
            }
            guard changed == 1 else { throw DatabaseError(message: "reservation \(id) changed concurrently") }
            return
        case .confirm:
            for line in reservation.lines {
                try db.executeDirect(sql: "UPDATE warehouse_sku SET held = held - ?1, sold = sold + ?1 WHERE merchant = ?2 AND sku = ?3") { binder in
                    binder.bind(line.quantity)
                    binder.bind(line.merchant)
                    binder.bind(line.sku)
                }
                try ledger(db, line.merchant, line.sku, "confirm", line.quantity, id, "", now)
            }
        case .release, .expire:
            for line in reservation.lines {
                try db.executeDirect(sql: "UPDATE warehouse_sku SET held = held - ? WHERE merchant = ? AND sku = ?") { binder in
                    binder.bind(line.quantity)
                    binder.bind(line.merchant)
                    binder.bind(line.sku)
                }
                try ledger(db, line.merchant, line.sku, movement.rawValue, line.quantity, id, "", now)
            }
        }
        let changed = try db.executeDirect(sql: "UPDATE warehouse_reservation SET state = ?, closed_at_ms = ? WHERE id = ? AND state = 'HELD'") { binder in
            binder.bind(state.rawValue)
            binder.bind(now)
            binder.bind(id)
        }
        guard changed == 1 else { throw DatabaseError(message: "reservation \(id) changed concurrently") }
        try db.executeDirect(sql: "UPDATE warehouse_owner SET held = held - 1, units = units - ?2 WHERE owner = ?1") { binder in
            binder.bind(reservation.owner)
            binder.bind(reservation.lines.units)
        }
    }

    static func ledger(
        _ db: Database,
        _ merchant: String,
        _ sku: String,
        _ kind: String,
        _ quantity: Int64,
        _ reservation: String?,
        _ reason: String,
        _ at: Int64
    ) throws {
        try db.executeDirect(
            sql: """
                INSERT INTO warehouse_ledger (merchant, sku, kind, quantity, reservation_id, reason, at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """
        ) { binder in
            binder.bind(merchant)
            binder.bind(sku)
            binder.bind(kind)
            binder.bind(quantity)
            binder.bind(reservation)
            binder.bind(reason)
            binder.bind(at)
        }
    }

    static func settings(_ db: Database, merchant: String, defaults: WarehouseConfiguration) throws -> MerchantWarehouseSettings {
        let stored = try db.queryDirect(
            sql: "SELECT default_hold_seconds, max_units_per_sku FROM warehouse_settings WHERE merchant = ?",
            { $0.bind(merchant) },
            row: { MerchantWarehouseSettings(merchant: merchant, defaultHoldSeconds: UInt32(clamping: $0.int64(0)), maxUnitsPerSKU: UInt32(clamping: $0.int64(1))) }
        )
        if let settings = stored.first { return settings }
        return MerchantWarehouseSettings(
            merchant: merchant,
            defaultHoldSeconds: defaults.defaultHoldSeconds,
            maxUnitsPerSKU: defaults.defaultMaxUnitsPerSKU
        )
    }

    /// The reservation as stored (a lapsed one may still say HELD).
    static func storedReservation(_ db: Database, id: String) throws -> ReservationRecord? {
        // One query: every reservation has at least one line.
        struct Joined {
            let owner: String, reference: String, state: String
            let created: Int64, expires: Int64, closed: Int64
            let line: ReservationLineRequest
        }
        let rows = try db.queryDirect(
            sql: """
                SELECT r.owner, r.reference, r.state, r.created_at_ms, r.expires_at_ms, r.closed_at_ms,
                       l.merchant, l.sku, l.quantity
                FROM warehouse_reservation r JOIN warehouse_reservation_line l ON l.reservation_id = r.id
                WHERE r.id = ? ORDER BY l.line
                """,
            { $0.bind(id) },
            row: { row in
                Joined(
                    owner: row.string(0), reference: row.string(1), state: row.string(2),
                    created: row.int64(3), expires: row.int64(4), closed: row.int64(5),
                    line: ReservationLineRequest(merchant: row.string(6), sku: row.string(7), quantity: row.int64(8))
                )
            }
        )
        guard let row = rows.first else { return nil }
        return ReservationRecord(
            id: id,
            owner: row.owner,
            reference: row.reference,
            state: ReservationState(rawValue: row.state) ?? .held,
            lines: rows.map(\.line),
            createdAtMilliseconds: row.created,
            expiresAtMilliseconds: row.expires,
            closedAtMilliseconds: row.closed
        )
    }

    /// The reservation as of `now`: lapsed reads EXPIRED, closed at its expiry.
    static func reservation(_ db: Database, id: String, now: Int64) throws -> ReservationRecord? {
        guard var record = try storedReservation(db, id: id) else { return nil }
        let effective = ReservationStateMachine.effectiveState(record.state, expiresAtMilliseconds: record.expiresAtMilliseconds, now: now)
        if effective != record.state {
            record.state = effective
            record.closedAtMilliseconds = record.expiresAtMilliseconds
        }
        return record
    }
}
