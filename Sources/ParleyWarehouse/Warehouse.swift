import Foundation
import GRDB
import Logging
import ParleyStore
import ParleyWire

/// The virtual warehouse (seed 002, FIG. 4): merchants allocate a share of
/// their stock; checkouts hold units for a window; capture confirms, failure
/// releases, time lapses. A unit is never promised twice.
///
/// Every decision is one database transaction through the group-commit
/// writer, and the invariants live in it: a hold is a conditional update
/// (`allocated - held - sold >= quantity`), a bundle's lines commit together
/// or not at all, and the table's CHECK constraints refuse an oversold row.
/// Expiry is exact without any timer: each transaction first expires the due
/// holds of the SKUs it touches, and availability reads subtract due holds
/// not yet written down. The actor owns the sweeper that writes them down.
public actor Warehouse {
    public nonisolated let configuration: WarehouseConfiguration
    nonisolated let database: ParleyDatabase
    nonisolated let clock: any WallClock
    nonisolated let logger: Logger
    /// Free counts of ``availabilityNow(_:)``, kept while nothing changes them.
    nonisolated let stockCache = StockCache()
    nonisolated let stockHints = StockHints()
    /// Held reservations as committed, so that settling one need not read it back.
    nonisolated let held = HeldReservations()

    public init(database: ParleyDatabase, configuration: WarehouseConfiguration = .defaults, clock: any WallClock, logger: Logger) {
        self.database = database
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    // MARK: Allocation

    /// The most units one SKU may have allocated, far from any overflow.
    public static let maxAllocatedUnits: Int64 = 1_000_000_000_000

    /// Adds or removes units of `merchant`'s SKUs, all or none.
    public nonisolated func allocate(
        merchant: String,
        adjustments: [InventoryAdjustmentRequest],
        caller: WarehouseCaller,
        onCommit: CommitHook<[SkuCounters]>? = nil
    ) async throws -> [SkuCounters] {
        guard caller.is(.admin) || (caller.is(.merchant) && caller.principal == merchant) else {
            throw WarehouseError.notYourMerchant(field: "merchant")
        }
        try Validation.name(merchant, field: "merchant")
        guard !adjustments.isEmpty else { throw WarehouseError.invalid(field: "adjustments", description: "at least one adjustment") }
        guard adjustments.count <= configuration.maxAdjustments else {
            throw WarehouseError.invalid(field: "adjustments", description: "at most \(configuration.maxAdjustments) per call")
        }
        for (index, adjustment) in adjustments.enumerated() {
            try Validation.name(adjustment.sku, field: "adjustments[\(index)].sku")
            guard adjustment.delta != 0 else {
                throw WarehouseError.invalid(field: "adjustments[\(index)].delta", description: "must not be 0")
            }
            guard (-1_000_000_000...1_000_000_000).contains(adjustment.delta) else {
                throw WarehouseError.invalid(field: "adjustments[\(index)].delta", description: "at most 1000000000 units at once")
            }
            guard adjustment.reason.count <= 256 else {
                throw WarehouseError.invalid(field: "adjustments[\(index)].reason", description: "at most 256 characters")
            }
        }
        let clock = self.clock
        return try await database.batchedWriter.write { db in
            // The clock is read in the transaction, not when the call was queued.
            let now = clock.nowMilliseconds
            var touched: [String] = []
            try Store.expireDue(db, now: now, held: self.held)
            for (index, adjustment) in adjustments.enumerated() {
                if adjustment.delta > 0 {
                    // The cap is the upsert's own condition: no read first.
                    let changed = try db.executeDirect(
                        sql: """
                            INSERT INTO warehouse_sku (merchant, sku, allocated) VALUES (?1, ?2, ?3)
                            ON CONFLICT (merchant, sku) DO UPDATE SET allocated = allocated + excluded.allocated
                            WHERE allocated <= ?4 - excluded.allocated
                            """
                    ) { binder in
                        binder.bind(merchant)
                        binder.bind(adjustment.sku)
                        binder.bind(adjustment.delta)
                        binder.bind(Warehouse.maxAllocatedUnits)
                    }
                    guard changed == 1 else {
                        throw WarehouseError.invalid(
                            field: "adjustments[\(index)].delta",
                            description: "a SKU may hold at most \(Warehouse.maxAllocatedUnits) allocated units"
                        )
                    }
                    try Store.ledger(db, merchant, adjustment.sku, "allocate", adjustment.delta, nil, adjustment.reason, now)
                } else {
                    let remove = -adjustment.delta
                    try db.executeCached(
                        sql: """
                            UPDATE warehouse_sku SET allocated = allocated - ?
                            WHERE merchant = ? AND sku = ? AND allocated - held - sold >= ?
                            """,
                        arguments: [remove, merchant, adjustment.sku, remove]
                    )
                    guard db.changesCount == 1 else {
                        let free = try Store.counters(db, merchant: merchant, sku: adjustment.sku)?.free ?? 0
                        throw WarehouseError.insufficientFree(
                            sku: adjustment.sku,
                            requested: remove,
                            free: free,
                            field: "adjustments[\(index)].delta"
                        )
                    }
                    try Store.ledger(db, merchant, adjustment.sku, "deallocate", remove, nil, adjustment.reason, now)
                }
                touched.append(adjustment.sku)
            }
            var seen = Set<String>()
            let counters = try touched.filter { seen.insert($0).inserted }.compactMap { try Store.counters(db, merchant: merchant, sku: $0) }
            try onCommit?(db, counters)
            return counters
        }
    }

    // MARK: Queries

    /// Free units per SKU now; unknown SKUs say so.
    public nonisolated func availability(_ items: [(merchant: String, sku: String)]) async throws -> [SkuAvailability] {
        let now = clock.nowMilliseconds
        return try await database.writer.read { db in try Self.availability(db, items, now: now) }
    }

    /// ``availability(_:)`` for callers on a hot path, such as the Orders
    /// inventory plug-in: answered from ``StockCache`` while no write has
    /// ended since its counts were read and no hold has lapsed, otherwise
    /// read on the calling thread (``ParleyDatabase/queryEachNow(sql:count:_:row:)``):
    /// one statement per SKU, all in one read transaction. (One statement
    /// for all of an order's SKUs measured no faster: SQLite builds its `IN`
    /// list into a temporary index.) Each SKU's lapsed holds are summed from
    /// the reservations still written down as HELD past their expiry, which
    /// the sweeper keeps few; while it catches up on a backlog (after
    /// downtime) this read costs more per SKU.
    public nonisolated func availabilityNow(_ items: [(merchant: String, sku: String)]) throws -> [SkuAvailability] {
        guard items.count <= 1000 else { throw WarehouseError.invalid(field: "items", description: "at most 1000 per call") }
        // Read before the database: a batch that ends after this changes it.
        let version = database.batchedWriter.batchesEnded
        let now = clock.nowMilliseconds
        if let cached = stockCache.lookup(items, version: version, now: now) { return cached }
        // Worth caching only while writes are rare; otherwise the count is
        // read plainly and not kept.
        let caching = stockCache.isQuiet(version: version, now: now)
        let counts = try database.queryEachNow(
            sql: caching ? Store.freeNowWithNextExpirySQL : Store.freeNowSQL,
            count: items.count,
            { index, binder in
                binder.bind(now)
                binder.bind(items[index].merchant)
                binder.bind(items[index].sku)
            },
            row: { (free: $0.int64(0), nextExpiry: caching ? $0.int64(1) : 0) }
        )
        let availability = zip(items, counts).map { item, rows in
            SkuAvailability(merchant: item.merchant, sku: item.sku, known: !rows.isEmpty, free: rows.first?.free ?? 0)
        }
        stockHints.note(availability.lazy.filter(\.known).map { ($0.merchant, $0.sku, $0.free) })
        guard caching else { return availability }
        // Unknown SKUs have no row; a hold of theirs could not lapse anyway.
        let validUntil = counts.compactMap { $0.first?.nextExpiry }.min() ?? Int64.max
        stockCache.store(availability, version: version, now: now, validUntil: validUntil)
        return availability
    }

    /// Availability for a caller that reserves the units next, such as
    /// Capture's inventory check: each item's count as last seen
    /// (``StockHints``) when it is known and had at least `wanted` units
    /// free, otherwise ``availabilityNow(_:)``. A count from memory may
    /// overstate what is free now; the reservation that follows is the
    /// check, and refuses with each short SKU's free count
    /// (``ReserveOutcome/shortage(_:)``), which becomes the count last seen.
    /// Under Capture, where every batch of writes invalidates
    /// ``StockCache``, the read was 11 % of the work loops' time
    /// (docs/benchmarks.md, session 14).
    public nonisolated func availabilityBeforeReserving(_ items: [(merchant: String, sku: String, wanted: Int64)]) throws -> [SkuAvailability] {
        guard items.count <= 1000 else { throw WarehouseError.invalid(field: "items", description: "at most 1000 per call") }
        if let seen = stockHints.lookup(items) { return seen }
        return try availabilityNow(items.map { (merchant: $0.merchant, sku: $0.sku) })
    }

    /// What ``availabilityBeforeReserving(_:)`` (when `beforeReserving`) or
    /// ``availabilityNow(_:)`` would answer without reading the database,
    /// if they would; nil when they would read. For a caller that can answer
    /// at once from memory and otherwise has to treat the read as I/O.
    public nonisolated func availabilityInMemory(_ items: [(merchant: String, sku: String, wanted: Int64)], beforeReserving: Bool) -> [SkuAvailability]? {
        guard items.count <= 1000 else { return nil }
        if beforeReserving, let seen = stockHints.lookup(items) { return seen }
        return stockCache.lookup(
            items.map { (merchant: $0.merchant, sku: $0.sku) }, version: database.batchedWriter.batchesEnded, now: clock.nowMilliseconds
        )
    }

    private static func availability(_ db: Database, _ items: [(merchant: String, sku: String)], now: Int64) throws -> [SkuAvailability] {
        guard items.count <= 1000 else { throw WarehouseError.invalid(field: "items", description: "at most 1000 per call") }
        let lapsed = try Store.dueHeld(db, now: now)
        return try items.map { item in
            guard let counters = try Store.counters(db, merchant: item.merchant, sku: item.sku) else {
                return SkuAvailability(merchant: item.merchant, sku: item.sku, known: false, free: 0)
            }
            let due = lapsed[SkuKey(merchant: item.merchant, sku: item.sku), default: 0]
            return SkuAvailability(merchant: item.merchant, sku: item.sku, known: true, free: counters.free + due)
        }
    }

    /// A merchant's counters (all its SKUs, or the named ones); admin: every merchant's.
    public nonisolated func inventory(caller: WarehouseCaller, skus: [String]) async throws -> [SkuCounters] {
        let now = clock.nowMilliseconds
        return try await database.writer.read { db in
            var rows: [SkuCounters]
            if caller.is(.admin) {
                let wanted = Set(skus)
                rows = try Store.allCounters(db, merchant: nil).filter { wanted.isEmpty || wanted.contains($0.sku) }
            } else if skus.isEmpty {
                rows = try Store.allCounters(db, merchant: caller.principal)
            } else {
                rows = try skus.compactMap { try Store.counters(db, merchant: caller.principal, sku: $0) }
            }
            // Lapsed holds count as free even before the sweeper writes them down.
            let lapsed = try Store.dueHeld(db, now: now)
            for index in rows.indices {
                rows[index].held -= lapsed[SkuKey(merchant: rows[index].merchant, sku: rows[index].sku), default: 0]
            }
            return rows
        }
    }

    // MARK: Reservations

    /// Holds every line for the window, or nothing. `onCommit` runs in the
    /// transaction when the lines are held, `onShortage` when they are not
    /// (the shortage is an answer, not an error: a caller can commit it as
    /// its idempotent outcome in the same transaction).
    public nonisolated func reserve(
        owner: String,
        lines: [ReservationLineRequest],
        holdSeconds: UInt32,
        reference: String,
        onShortage: CommitHook<[LineShortage]>? = nil,
        onCommit: CommitHook<ReservationRecord>? = nil
    ) async throws -> ReserveOutcome {
        guard !lines.isEmpty else { throw WarehouseError.invalid(field: "lines", description: "at least one line") }
        guard lines.count <= configuration.maxLines else {
            throw WarehouseError.invalid(field: "lines", description: "at most \(configuration.maxLines) lines")
        }
        guard holdSeconds <= configuration.maxHoldSeconds else {
            throw WarehouseError.invalid(field: "hold_seconds", description: "at most \(configuration.maxHoldSeconds) seconds")
        }
        guard reference.count <= 128 else { throw WarehouseError.invalid(field: "reference", description: "at most 128 characters") }
        for (index, line) in lines.enumerated() {
            try Validation.name(line.merchant, field: "lines[\(index)].merchant")
            try Validation.name(line.sku, field: "lines[\(index)].sku")
            guard line.quantity > 0 else {
                throw WarehouseError.invalid(field: "lines[\(index)].quantity", description: "must be positive")
            }
        }
        let clock = self.clock
        let random = ReservationIDRandom.draw()
        let outcome = try await database.batchedWriter.write { db -> ReserveOutcome in
            let now = clock.nowMilliseconds
            let id = Identifiers.reservation(nowMilliseconds: now, random: random)
            // Settings, known SKUs and caps first: a bad line changes nothing.
            var window = holdSeconds
            var perSKU: [String: Int64] = [:]
            let merchants = try self.settings(db, merchants: lines.map(\.merchant))
            for (index, line) in lines.enumerated() {
                let settings = merchants[line.merchant]!
                if holdSeconds == 0 { window = window == 0 ? settings.defaultHoldSeconds : min(window, settings.defaultHoldSeconds) }
                let key = "\(line.merchant)\u{0}\(line.sku)"
                perSKU[key, default: 0] += line.quantity
                guard perSKU[key]! <= Int64(settings.maxUnitsPerSKU) else {
                    throw WarehouseError.invalid(
                        field: "lines[\(index)].quantity",
                        description: "at most \(settings.maxUnitsPerSKU) units of one SKU per reservation"
                    )
                }
            }
            let expiresAt = now + Int64(window) * 1000
            try Store.expireDue(db, now: now, held: self.held)
            // The conditional update is the decision; the counters are read
            // only when it refuses (an unknown SKU, or a shortage reported
            // with the free count before this reservation took any units).
            var shortages: [LineShortage] = []
            var held = [Bool](repeating: false, count: lines.count)
            for (index, line) in lines.enumerated() {
                let changed = try db.executeDirect(
                    sql: """
                        UPDATE warehouse_sku SET held = held + ?1
                        WHERE merchant = ?2 AND sku = ?3 AND allocated - held - sold >= ?1
                        """
                ) { binder in
                    binder.bind(line.quantity)
                    binder.bind(line.merchant)
                    binder.bind(line.sku)
                }
                if changed == 1 {
                    held[index] = true
                    continue
                }
                guard let counters = try Store.counters(db, merchant: line.merchant, sku: line.sku) else {
                    throw WarehouseError.invalid(field: "lines[\(index)].sku", description: "unknown SKU '\(line.sku)' of merchant '\(line.merchant)'")
                }
                // Free before this reservation: add back what its earlier lines took.
                let taken = lines[..<index].indices
                    .filter { held[$0] && lines[$0].merchant == line.merchant && lines[$0].sku == line.sku }
                    .reduce(Int64(0)) { $0 + lines[$1].quantity }
                shortages.append(
                    LineShortage(line: index, merchant: line.merchant, sku: line.sku, requested: line.quantity, free: counters.free + taken)
                )
            }
            if !shortages.isEmpty {
                // The lines already held are given back, so that the operation
                // can still commit its answer; a shortage pays for this, not
                // every reservation (no savepoint around the holds).
                for (index, line) in lines.enumerated() where held[index] {
                    try db.executeDirect(sql: "UPDATE warehouse_sku SET held = held - ?1 WHERE merchant = ?2 AND sku = ?3") { binder in
                        binder.bind(line.quantity)
                        binder.bind(line.merchant)
                        binder.bind(line.sku)
                    }
                }
                try onShortage?(db, shortages)
                return .shortage(shortages)
            }
            // The agent's count and units, both capped, in one upsert; a
            // refusal reads the row to say which cap it met.
            let cap = self.configuration.maxHeldReservationsPerAgent
            let unitCap = self.configuration.maxHeldUnitsPerAgent
            let units = lines.units
            let counted = units > unitCap ? 0 : try db.executeDirect(
                sql: """
                    INSERT INTO warehouse_owner (owner, held, units) VALUES (?1, 1, ?3)
                    ON CONFLICT (owner) DO UPDATE SET held = held + 1, units = units + ?3 WHERE held < ?2 AND units + ?3 <= ?4
                    """
            ) { binder in
                binder.bind(owner)
                binder.bind(cap)
                binder.bind(units)
                binder.bind(unitCap)
            }
            guard counted == 1 else {
                let current = try db.queryDirect(
                    sql: "SELECT held, units FROM warehouse_owner WHERE owner = ?",
                    { $0.bind(owner) },
                    row: { (held: $0.int64(0), units: $0.int64(1)) }
                ).first ?? (held: 0, units: 0)
                if current.held >= Int64(cap) { throw WarehouseError.tooManyHeld(limit: cap) }
                throw WarehouseError.tooManyUnits(limit: unitCap, held: current.units, requested: units)
            }
            try db.executeDirect(
                sql: """
                    INSERT INTO warehouse_reservation (id, owner, reference, state, created_at_ms, expires_at_ms)
                    VALUES (?, ?, ?, 'HELD', ?, ?)
                    """
            ) { binder in
                binder.bind(id)
                binder.bind(owner)
                binder.bind(reference)
                binder.bind(now)
                binder.bind(expiresAt)
            }
            for (index, line) in lines.enumerated() {
                try db.executeDirect(
                    sql: """
                        INSERT INTO warehouse_reservation_line (reservation_id, line, merchant, sku, quantity)
                        VALUES (?, ?, ?, ?, ?)
                        """
                ) { binder in
                    binder.bind(id)
                    binder.bind(index)
                    binder.bind(line.merchant)
                    binder.bind(line.sku)
                    binder.bind(line.quantity)
                }
                try Store.ledger(db, line.merchant, line.sku, "hold", line.quantity, id, "", now)
            }
            let record = ReservationRecord(
                id: id,
                owner: owner,
                reference: reference,
                state: .held,
                lines: lines,
                createdAtMilliseconds: now,
                expiresAtMilliseconds: expiresAt,
                closedAtMilliseconds: 0
            )
            // Kept once committed, unless the caller's hook already changed it
            // (a capture confirms its hold in the same write).
            let unchanged = try self.held.watching(record) { try onCommit?(db, record) }
            if unchanged {
                let held = self.held
                _ = self.database.batchedWriter.afterCommit(of: db) { held.remember(record) }
            }
            return .reserved(record)
        }
        if case .shortage(let lines) = outcome { stockHints.note(lines.lazy.map { ($0.merchant, $0.sku, $0.free) }) }
        return outcome
    }

    /// Gives a held reservation a new window counted from now.
    public nonisolated func extend(
        id: String,
        holdSeconds: UInt32,
        caller: WarehouseCaller,
        onCommit: CommitHook<ReservationRecord>? = nil
    ) async throws -> ReservationRecord {
        guard holdSeconds <= configuration.maxHoldSeconds else {
            throw WarehouseError.invalid(field: "hold_seconds", description: "at most \(configuration.maxHoldSeconds) seconds")
        }
        let lifetime = configuration.maxLifetimeSeconds
        return try await change(id: id, caller: caller, mustOwn: true, onCommit: onCommit) { db, record, now in
            var window = holdSeconds
            if window == 0 {
                window = try self.settings(db, merchants: record.lines.map(\.merchant)).values.map(\.defaultHoldSeconds).min() ?? UInt32.max
            }
            let newExpiry = now + Int64(window) * 1000
            // A reservation that is no longer held is refused by the state machine, not here.
            let current = ReservationStateMachine.effectiveState(record.state, expiresAtMilliseconds: record.expiresAtMilliseconds, now: now)
            let lastAllowed = record.createdAtMilliseconds + Int64(lifetime) * 1000
            guard current != .held || newExpiry <= lastAllowed else {
                throw WarehouseError.invalid(
                    field: "hold_seconds",
                    description: "a reservation may be held at most \(lifetime) seconds in all; this one can be extended to \(lastAllowed) ms at the latest"
                )
            }
            return .extend(newExpiresAtMilliseconds: newExpiry)
        }
    }

    /// Turns held units into sold ones (capture).
    public nonisolated func confirm(
        id: String,
        caller: WarehouseCaller,
        onCommit: CommitHook<ReservationRecord>? = nil
    ) async throws -> ReservationRecord {
        try await change(id: id, caller: caller, mustOwn: true, onCommit: onCommit) { _, _, _ in .confirm }
    }

    /// Turns held units into sold ones inside the caller's own write: the
    /// same checks and movements as ``confirm(id:caller:onCommit:)``, for a
    /// capture that holds and confirms in one transaction. Throws
    /// ``WarehouseError`` when the reservation cannot be confirmed; the
    /// caller's transaction decides what is kept.
    public nonisolated func confirm(in db: Database, id: String, caller: WarehouseCaller) throws -> ReservationRecord {
        try apply(db, id: id, caller: caller, mustOwn: true, onCommit: nil) { _, _, _ in .confirm }.get()
    }

    /// Frees held units (failure, or the owner gave up).
    public nonisolated func release(
        id: String,
        caller: WarehouseCaller,
        onCommit: CommitHook<ReservationRecord>? = nil
    ) async throws -> ReservationRecord {
        try await change(id: id, caller: caller, mustOwn: true, onCommit: onCommit) { _, _, _ in .release }
    }

    /// One reservation, if the caller may see it.
    public nonisolated func reservation(id: String, caller: WarehouseCaller) async throws -> ReservationRecord {
        let now = clock.nowMilliseconds
        return try await database.writer.read { db in
            guard let record = try Store.reservation(db, id: id, now: now), Access.maySee(record, caller) else {
                throw WarehouseError.reservationNotFound(id)
            }
            return Access.visible(record, to: caller)
        }
    }

    /// Reservations the caller may see, newest first.
    public nonisolated func reservations(caller: WarehouseCaller, state: ReservationState?, limit: Int) async throws -> [ReservationRecord] {
        let limit = min(max(limit, 1), 1000)
        let now = clock.nowMilliseconds
        // The state as of now: a lapsed HELD reservation counts as EXPIRED.
        let stateFilter: String
        var arguments: StatementArguments = []
        switch state {
        case nil:
            stateFilter = ""
        case .held?:
            stateFilter = "AND r.state = 'HELD' AND r.expires_at_ms > ?"
            arguments += [now]
        case .expired?:
            stateFilter = "AND (r.state = 'EXPIRED' OR (r.state = 'HELD' AND r.expires_at_ms <= ?))"
            arguments += [now]
        case let other?:
            stateFilter = "AND r.state = ?"
            arguments += [other.rawValue]
        }
        let (sql, scopeArguments) = Self.listingSQL(caller: caller, stateFilter: stateFilter)
        let all = scopeArguments + arguments + [limit]
        return try await database.writer.read { db in
            try String.fetchAll(cached: db, sql: sql, arguments: all).compactMap { id in
                try Store.reservation(db, id: id, now: now).map { Access.visible($0, to: caller) }
            }
        }
    }

    /// The listing query for `caller`, each walking an index newest first so
    /// that a page costs its length, not the number of reservations: an
    /// agent's by (owner, created_at_ms); a merchant's through its lines by
    /// (merchant, reservation_id) and admin's by id. Ids begin with the
    /// creation time (``Identifiers/reservation(nowMilliseconds:random:)``),
    /// so id order is creation order to the millisecond.
    static func listingSQL(caller: WarehouseCaller, stateFilter: String) -> (sql: String, arguments: StatementArguments) {
        if caller.isPrivileged {
            return ("SELECT r.id FROM warehouse_reservation r WHERE 1 = 1 \(stateFilter) ORDER BY r.id DESC LIMIT ?", [])
        }
        if caller.is(.merchant) && !caller.is(.agent) {
            return (
                """
                SELECT l.reservation_id FROM warehouse_reservation_line l CROSS JOIN warehouse_reservation r ON r.id = l.reservation_id
                WHERE l.merchant = ? \(stateFilter) GROUP BY l.reservation_id ORDER BY l.reservation_id DESC LIMIT ?
                """,
                [caller.principal]
            )
        }
        return ("SELECT r.id FROM warehouse_reservation r WHERE r.owner = ? \(stateFilter) ORDER BY r.created_at_ms DESC LIMIT ?", [caller.principal])
    }

    // MARK: Settings

    public nonisolated func updateSettings(
        merchant: String,
        defaultHoldSeconds: UInt32,
        maxUnitsPerSKU: UInt32
    ) async throws -> MerchantWarehouseSettings {
        guard defaultHoldSeconds <= configuration.maxHoldSeconds else {
            throw WarehouseError.invalid(field: "default_hold_seconds", description: "at most \(configuration.maxHoldSeconds) seconds")
        }
        guard maxUnitsPerSKU <= 1_000_000 else {
            throw WarehouseError.invalid(field: "max_units_per_sku", description: "at most 1000000")
        }
        let configuration = self.configuration
        let updated = try await database.batchedWriter.write { db in
            var settings = try Store.settings(db, merchant: merchant, defaults: configuration)
            if defaultHoldSeconds > 0 { settings.defaultHoldSeconds = defaultHoldSeconds }
            if maxUnitsPerSKU > 0 { settings.maxUnitsPerSKU = maxUnitsPerSKU }
            try db.executeCached(
                sql: """
                    INSERT INTO warehouse_settings (merchant, default_hold_seconds, max_units_per_sku) VALUES (?, ?, ?)
                    ON CONFLICT (merchant) DO UPDATE SET default_hold_seconds = excluded.default_hold_seconds,
                        max_units_per_sku = excluded.max_units_per_sku
                    """,
                arguments: [merchant, settings.defaultHoldSeconds, settings.maxUnitsPerSKU]
            )
            return settings
        }
        return updated
    }

    /// The settings of each merchant named (one primary-key read per merchant,
    /// however many lines name it).
    nonisolated func settings(_ db: Database, merchants: [String]) throws -> [String: MerchantWarehouseSettings] {
        var settings: [String: MerchantWarehouseSettings] = [:]
        for merchant in merchants where settings[merchant] == nil {
            settings[merchant] = try Store.settings(db, merchant: merchant, defaults: configuration)
        }
        return settings
    }

    // MARK: Expiry sweeper

    /// Writes down reservations whose window has passed (at most `limit` per
    /// transaction). Returns how many it wrote down, which is less than
    /// `limit` when fewer were due (or a due one could not be read).
    @discardableResult
    public nonisolated func sweepExpired(limit: Int = 500) async throws -> Int {
        let clock = self.clock
        return try await database.batchedWriter.write { db in
            let now = clock.nowMilliseconds
            let due = try String.fetchAll(
                cached: db,
                sql: "SELECT id FROM warehouse_reservation WHERE state = 'HELD' AND expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?",
                arguments: [now, limit]
            )
            return try due.filter { try Store.expire(db, reservationID: $0, held: self.held) }.count
        }
    }

    /// Writes down every reservation that lapsed while the daemon was down,
    /// `chunk` per transaction, so that no single write has to expire a long
    /// backlog (every decision first expires what is due). Run before serving;
    /// `progress` hears the running total after each chunk. Returns how many.
    @discardableResult
    public nonisolated func sweepBacklog(chunk: Int = 500, progress: (Int) -> Void = { _ in }) async throws -> Int {
        precondition(chunk >= 1)
        var total = 0
        while true {
            // Ends on the first short chunk: also when a due row could not be
            // written down, so a damaged row cannot hold start-up forever.
            let swept = try await sweepExpired(limit: chunk)
            total += swept
            if swept > 0 { progress(total) }
            if swept < chunk { return total }
        }
    }

    /// Whether a held reservation's window has passed (a read).
    nonisolated func anyDue() async throws -> Bool {
        let now = clock.nowMilliseconds
        return try await database.writer.read { db in
            try Bool.fetchOne(
                db,
                sql: "SELECT EXISTS (SELECT 1 FROM warehouse_reservation WHERE state = 'HELD' AND expires_at_ms <= ?)",
                arguments: [now]
            ) ?? false
        }
    }

    /// Sweeps until cancelled (the daemon runs this as a service). A sweep
    /// writes only when a reservation is due: a write, even one that changes
    /// nothing, ends a batch, and every batch ended drops ``StockCache``'s
    /// counts. An idle sweep each second cost Negotiate its cached stock for
    /// a tenth of every second (docs/benchmarks.md, session 14).
    public func runSweeper() async {
        while !Task.isCancelled {
            do {
                guard try await anyDue() else {
                    try? await Task.sleep(for: configuration.sweepInterval)
                    continue
                }
                let swept = try await sweepExpired()
                if swept > 0 { logger.debug("expired reservations", metadata: ["count": "\(swept)"]) }
                if swept == 500 { continue }  // More are due: keep going.
            } catch {
                logger.error("reservation sweep failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.sweepInterval)
        }
    }

    // MARK: Internals

    /// Applies one state-machine event in a write of its own. A reservation
    /// found lapsed is written down as EXPIRED even when the event is refused.
    private nonisolated func change(
        id: String,
        caller: WarehouseCaller,
        mustOwn: Bool,
        onCommit: CommitHook<ReservationRecord>?,
        event: @escaping @Sendable (Database, ReservationRecord, Int64) throws -> ReservationStateMachine.Event
    ) async throws -> ReservationRecord {
        let result = try await database.batchedWriter.write { db -> Result<ReservationRecord, WarehouseError> in
            try self.apply(db, id: id, caller: caller, mustOwn: mustOwn, onCommit: onCommit, event: event)
        }
        return try result.get()
    }

    /// Applies one state-machine event inside the current transaction. A
    /// refusal is a failure, not a throw, so that a lapse it found can still
    /// be written down with the transaction.
    private nonisolated func apply(
        _ db: Database,
        id: String,
        caller: WarehouseCaller,
        mustOwn: Bool,
        onCommit: CommitHook<ReservationRecord>?,
        event: (Database, ReservationRecord, Int64) throws -> ReservationStateMachine.Event
    ) throws -> Result<ReservationRecord, WarehouseError> {
        let now = clock.nowMilliseconds
        // Taken out of the cache: this write may change it.
        guard let stored = try held.take(id) ?? Store.storedReservation(db, id: id),
            Access.mayChange(stored, caller, mustOwn: mustOwn)
        else {
            return .failure(.reservationNotFound(id))
        }
        let transition = ReservationStateMachine.transition(
            from: stored.state,
            expiresAtMilliseconds: stored.expiresAtMilliseconds,
            event: try event(db, stored, now),
            now: now
        )
        switch transition {
        case .unchanged:
            var record = stored
            let effective = ReservationStateMachine.effectiveState(stored.state, expiresAtMilliseconds: stored.expiresAtMilliseconds, now: now)
            if effective != stored.state {
                record.state = effective
                record.closedAtMilliseconds = stored.expiresAtMilliseconds
            }
            try onCommit?(db, record)
            return .success(record)
        case .refused(let error, let lapsed):
            if lapsed { try Store.expire(db, reservationID: id, held: held) }
            return .failure(error)
        case .move(let state, let expiresAt, let movement):
            // A lapsed reservation closes at its expiry, not at the moment it was noticed.
            let closedAt = movement == .expire ? stored.expiresAtMilliseconds : now
            try Store.move(db, reservation: stored, to: state, expiresAt: expiresAt, movement: movement, now: closedAt)
            var record = stored
            record.state = state
            record.expiresAtMilliseconds = expiresAt
            record.closedAtMilliseconds = state == .held ? 0 : closedAt
            try onCommit?(db, record)
            return .success(record)
        }
    }
}

enum Validation {
    static func name(_ value: String, field: String) throws {
        if let problem = NameRule.problem(value) { throw WarehouseError.invalid(field: field, description: problem) }
    }
}

enum Identifiers {
    /// In ascending byte order, so that the time prefix sorts as it counts.
    private static let alphabet = Array("23456789abcdefghijkmnopqrstuvwxyz")

    /// `rsv_`, the creation time in milliseconds (10 characters, so ids sort
    /// by age and new rows append to the end of the tables' B-trees instead
    /// of touching pages all over them), then 16 random characters (80 bits
    /// from `random`): unique and not guessable.
    static func reservation(nowMilliseconds: Int64, random: ReservationIDRandom) -> String {
        var characters: [Character] = []
        characters.reserveCapacity(26)
        var time = UInt64(max(0, nowMilliseconds))
        for _ in 0..<10 {
            characters.append(alphabet[Int(time % UInt64(alphabet.count))])
            time /= UInt64(alphabet.count)
        }
        characters.reverse()
        // 16 characters of 5 bits each (the alphabet has 33 symbols; the
        // first 32 are used), from two 64-bit draws.
        var bits = random.high
        for index in 0..<16 {
            if index == 8 { bits = random.low }
            characters.append(alphabet[Int(bits & 31)])
            bits >>= 5
        }
        return "rsv_" + String(characters)
    }
}

/// The random part of a reservation id, drawn before the writer runs (a
/// system random draw is a system call, and the writer is the bottleneck).
struct ReservationIDRandom: Sendable {
    let high: UInt64
    let low: UInt64

    static func draw() -> ReservationIDRandom {
        var generator = SystemRandomNumberGenerator()
        return ReservationIDRandom(high: generator.next(), low: generator.next())
    }
}

enum Access {
    static func maySee(_ record: ReservationRecord, _ caller: WarehouseCaller) -> Bool {
        if caller.isPrivileged || record.owner == caller.principal { return true }
        return caller.is(.merchant) && record.lines.contains { $0.merchant == caller.principal }
    }

    /// What a caller is shown: a merchant that is not the owner sees only
    /// its own lines of a bundle, never other merchants' SKUs and quantities.
    static func visible(_ record: ReservationRecord, to caller: WarehouseCaller) -> ReservationRecord {
        guard !caller.isPrivileged, record.owner != caller.principal else { return record }
        var filtered = record
        filtered.lines = record.lines.filter { $0.merchant == caller.principal }
        return filtered
    }

    static func mayChange(_ record: ReservationRecord, _ caller: WarehouseCaller, mustOwn: Bool) -> Bool {
        caller.isPrivileged || record.owner == caller.principal || (!mustOwn && maySee(record, caller))
    }
}
