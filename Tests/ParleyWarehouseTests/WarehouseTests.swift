import Foundation
import GRDB
import Logging
import ParleyStore
@testable import ParleyWarehouse
import ParleyWire
import Synchronization
import Testing

@Suite("Warehouse")
struct WarehouseTests {
    let clock = ManualWallClock(startingAt: 1_000_000)
    let merchant = WarehouseCaller(principal: "widgets", kinds: [.merchant])
    let agent = WarehouseCaller(principal: "acme-travel", kinds: [.agent])

    func makeWarehouse(
        database: ParleyDatabase? = nil,
        _ configure: (inout WarehouseConfiguration) -> Void = { _ in }
    ) throws -> Warehouse {
        var configuration = WarehouseConfiguration.defaults
        configure(&configuration)
        let database = try database ?? ParleyDatabase.inMemory(migrations: WarehouseSchema.migrations)
        return Warehouse(database: database, configuration: configuration, clock: clock, logger: Logger(label: "test"))
    }

    func stock(_ warehouse: Warehouse, _ units: Int64, sku: String = "widget") async throws {
        _ = try await warehouse.allocate(merchant: "widgets", adjustments: [.init(sku: sku, delta: units, reason: "morning count")], caller: merchant)
    }

    /// The free count, which the hot path's one-statement read must agree with.
    func free(_ warehouse: Warehouse, sku: String = "widget", sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int64 {
        let read = try await warehouse.availability([(merchant: "widgets", sku: sku)])[0]
        let now = try warehouse.availabilityNow([(merchant: "widgets", sku: sku)])[0]
        #expect(now == read, sourceLocation: sourceLocation)
        return read.free
    }

    func line(_ quantity: Int64, sku: String = "widget") -> ReservationLineRequest {
        ReservationLineRequest(merchant: "widgets", sku: sku, quantity: quantity)
    }

    func reserved(_ outcome: ReserveOutcome) throws -> ReservationRecord {
        guard case .reserved(let record) = outcome else { throw Failure(description: "expected a reservation, got \(outcome)") }
        return record
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    @Test("expiry is exact: units are free at expires_at, before any sweep; extend moves it; confirm after it is refused")
    func expiry() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 10)
        let record = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(4)], holdSeconds: 60, reference: "order-1"))
        #expect(record.expiresAtMilliseconds == 1_000_000 + 60_000)
        #expect(try await free(warehouse) == 6)

        clock.advance(by: .milliseconds(59_999))  // before
        #expect(try await free(warehouse) == 6)
        #expect(try await warehouse.reservation(id: record.id, caller: agent).state == .held)

        let extended = try await warehouse.extend(id: record.id, holdSeconds: 120, caller: agent)
        #expect(extended.expiresAtMilliseconds == clock.nowMilliseconds + 120_000)

        clock.set(milliseconds: extended.expiresAtMilliseconds)  // at
        #expect(try await free(warehouse) == 10)
        #expect(try await warehouse.reservation(id: record.id, caller: agent).state == .expired)
        await #expect(throws: WarehouseError.expired(atMilliseconds: extended.expiresAtMilliseconds)) {
            _ = try await warehouse.confirm(id: record.id, caller: agent)
        }
        clock.advance(by: .seconds(3600))  // after
        #expect(try await free(warehouse) == 10)
        let audit = try await warehouse.audit(caller: WarehouseCaller(principal: "ops", kinds: [.admin]))
        #expect(audit.balances, "\(audit.discrepancies)")
        #expect(audit.held == 0)
    }

    @Test("the hot path's read agrees with GetAvailability on a database file: 40 SKUs, repeats, unknown SKUs, lapsed and live holds")
    func availabilityNowAgrees() async throws {
        // A database file: the hot path reads it on connections of its own.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-warehouse-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try ParleyDatabase.open(path: directory.appendingPathComponent("w.sqlite").path, migrations: WarehouseSchema.migrations)
        let warehouse = try makeWarehouse(database: database)
        let skus = (0..<40).map { "sku-\($0)" }
        _ = try await warehouse.allocate(
            merchant: "widgets",
            adjustments: skus.enumerated().map { .init(sku: $1, delta: Int64(10 + $0), reason: "count") },
            caller: merchant
        )
        // A bundle that lapses (two lines of one SKU), and one that stays held.
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(2, sku: "sku-3"), line(1, sku: "sku-3"), line(4, sku: "sku-35")], holdSeconds: 60, reference: "lapses"))
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(5, sku: "sku-3"), line(1, sku: "sku-39")], holdSeconds: 600, reference: "stays"))
        clock.advance(by: .seconds(61))
        let items = (skus + ["sku-3", "nope"]).map { (merchant: "widgets", sku: $0) } + [(merchant: "gadgets", sku: "sku-1")]
        let read = try await warehouse.availability(items)
        #expect(try warehouse.availabilityNow(items) == read)
        let free = Dictionary(read.map { ($0.merchant + "/" + $0.sku, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(free["widgets/sku-3"]?.free == 8)  // 13 allocated, 5 held by the live bundle
        #expect(free["widgets/sku-35"]?.free == 45)  // its only hold lapsed
        #expect(free["widgets/sku-39"]?.free == 48)  // 49 allocated, 1 held
        #expect(free["widgets/nope"]?.known == false)
        #expect(free["gadgets/sku-1"]?.known == false)
        try await database.close()
    }

    @Test("the hot path's cached counts follow every write at once, and a lapsing hold without any write")
    func availabilityNowCache() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 10)
        // Each write is followed by reads over more than the quiet time, so
        // the counts are cached, then read from the cache.
        let now = { () throws -> [SkuAvailability] in
            let first = try warehouse.availabilityNow([(merchant: "widgets", sku: "widget"), (merchant: "widgets", sku: "gone")])
            clock.advance(by: .milliseconds(StockCache.quietMilliseconds))
            let cached = try warehouse.availabilityNow([(merchant: "widgets", sku: "widget"), (merchant: "widgets", sku: "gone")])
            #expect(cached == first)
            #expect(try warehouse.availabilityNow([(merchant: "widgets", sku: "widget"), (merchant: "widgets", sku: "gone")]) == first)
            return first
        }
        #expect(try now().map(\.free) == [10, 0])
        #expect(try now().map(\.known) == [true, false])
        let record = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(4)], holdSeconds: 60, reference: "r"))
        #expect(try now()[0].free == 6)
        _ = try await warehouse.allocate(merchant: "widgets", adjustments: [.init(sku: "gone", delta: 3, reason: "found")], caller: merchant)
        #expect(try now().map(\.free) == [6, 3])
        #expect(try now().map(\.known) == [true, true])
        // The hold lapses with no write in between: its units are free at
        // expires_at, although the cache holds the count from before.
        let read = { try warehouse.availabilityNow([(merchant: "widgets", sku: "widget")])[0].free }
        clock.set(milliseconds: record.expiresAtMilliseconds - 1)
        #expect(try read() == 6)
        clock.set(milliseconds: record.expiresAtMilliseconds)
        #expect(try read() == 10)
        #expect(try now()[0].free == 10)
        // And stays correct once the sweeper has written the lapse down.
        #expect(try await warehouse.sweepExpired() == 1)
        #expect(try now().map(\.free) == [10, 3])
    }

    @Test("before reserving, counts last seen answer when they suffice; a count too low or never seen is read; a refusal's free count is the one seen next")
    func availabilityBeforeReserving() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 10)
        let before = { (wanted: Int64) throws -> SkuAvailability in
            try warehouse.availabilityBeforeReserving([(merchant: "widgets", sku: "widget", wanted: wanted)])[0]
        }
        let inMemory = { (wanted: Int64, beforeReserving: Bool) -> Int64? in
            warehouse.availabilityInMemory([(merchant: "widgets", sku: "widget", wanted: wanted)], beforeReserving: beforeReserving)?.first?.free
        }
        // Never seen: read.
        #expect(inMemory(3, true) == nil)
        #expect(try before(3).free == 10)
        #expect(inMemory(3, true) == 10 && inMemory(11, true) == nil)
        // Without a reservation to follow, only the exact cache answers from memory.
        #expect(inMemory(3, false) == nil)
        // Units taken since: the count last seen answers while it suffices.
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(8)], holdSeconds: 60, reference: "r"))
        #expect(try before(3).free == 10)
        // More wanted than last seen free: read again, and that count is kept.
        #expect(try before(11).free == 2)
        #expect(try before(3).free == 2)
        // Overstated and refused: the refusal's free count is the one kept
        // (and stays, stale again, once the unit is given back).
        let one = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 60, reference: "r"))
        #expect(try before(2).free == 2)
        guard case .shortage(let shortages) = try await warehouse.reserve(owner: "acme-travel", lines: [line(2)], holdSeconds: 60, reference: "r") else {
            throw Failure(description: "expected a shortage")
        }
        #expect(shortages.map(\.free) == [1])
        _ = try await warehouse.release(id: one.id, caller: agent)
        #expect(try before(1).free == 1)
        #expect(try before(2).free == 2)
        // An unknown SKU is read every time, and says so; so is a partly known order.
        let unknown = try warehouse.availabilityBeforeReserving([(merchant: "widgets", sku: "widget", wanted: 1), (merchant: "widgets", sku: "gone", wanted: 1)])
        #expect(unknown.map(\.known) == [true, false])
        _ = try await warehouse.allocate(merchant: "widgets", adjustments: [.init(sku: "gone", delta: 3, reason: "found")], caller: merchant)
        #expect(try warehouse.availabilityBeforeReserving([(merchant: "widgets", sku: "gone", wanted: 1)]).map(\.free) == [3])
        // Keys match byte for byte, as SQLite's do: a count seen for "café"
        // spelled with one scalar does not answer for "café" spelled with a
        // combining accent, another SKU to SQLite (and one it does not know).
        try await stock(warehouse, 4, sku: "caf\u{E9}")
        #expect(try warehouse.availabilityBeforeReserving([(merchant: "widgets", sku: "caf\u{E9}", wanted: 1)]).map(\.known) == [true])
        #expect(warehouse.availabilityInMemory([(merchant: "widgets", sku: "cafe\u{301}", wanted: 1)], beforeReserving: true) == nil)
        #expect(try warehouse.availabilityBeforeReserving([(merchant: "widgets", sku: "cafe\u{301}", wanted: 1)]).map(\.known) == [false])
        #expect(try warehouse.availabilityBeforeReserving([(merchant: "widgets", sku: "caf\u{E9}", wanted: 1)]).map(\.free) == [4])
    }

    @Test("extensions cannot hold stock past the reservation's lifetime")
    func lifetime() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 10)
        let record = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 7200, reference: ""))
        clock.advance(by: .seconds(7000))
        let extended = try await warehouse.extend(id: record.id, holdSeconds: 7200, caller: agent)  // ends at 14,200 s of 14,400
        #expect(extended.expiresAtMilliseconds == record.createdAtMilliseconds + 14_200_000)
        clock.advance(by: .seconds(7000))
        do {
            _ = try await warehouse.extend(id: record.id, holdSeconds: 7200, caller: agent)
            Issue.record("extending past the lifetime must be refused")
        } catch let error as WarehouseError {
            #expect(error.rpcError.violations.map(\.field) == ["hold_seconds"])
        }
        #expect(try await warehouse.extend(id: record.id, holdSeconds: 400, caller: agent).expiresAtMilliseconds == record.createdAtMilliseconds + 14_400_000)
    }

    @Test("confirm sells, release frees; repeats are harmless; other agents see nothing")
    func lifecycle() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 10)
        let sold = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(3)], holdSeconds: 0, reference: "a"))
        #expect(sold.expiresAtMilliseconds == clock.nowMilliseconds + 1_800_000)  // the 30-minute default
        let freed = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(2)], holdSeconds: 0, reference: "b"))
        #expect(try await warehouse.confirm(id: sold.id, caller: agent).state == .confirmed)
        #expect(try await warehouse.confirm(id: sold.id, caller: agent).state == .confirmed)
        #expect(try await warehouse.release(id: freed.id, caller: agent).state == .released)
        await #expect(throws: WarehouseError.notHeld(.confirmed)) { _ = try await warehouse.release(id: sold.id, caller: agent) }
        let stranger = WarehouseCaller(principal: "other-agency", kinds: [.agent])
        await #expect(throws: WarehouseError.reservationNotFound(sold.id)) { _ = try await warehouse.reservation(id: sold.id, caller: stranger) }
        await #expect(throws: WarehouseError.reservationNotFound(freed.id)) { _ = try await warehouse.release(id: freed.id, caller: stranger) }
        #expect(try await warehouse.reservation(id: sold.id, caller: merchant).state == .confirmed)  // its stock
        #expect(try await warehouse.reservations(caller: agent, state: nil, limit: 10).count == 2)
        #expect(try await warehouse.reservations(caller: stranger, state: nil, limit: 10).isEmpty)
        let counters = try await warehouse.inventory(caller: merchant, skus: [])
        #expect(counters == [SkuCounters(merchant: "widgets", sku: "widget", allocated: 10, held: 0, sold: 3)])
    }

    @Test("held reservations are kept in memory only as committed: not when the write fails, not when its own hook settled them")
    func heldCache() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 10)
        let kept = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 0, reference: "kept"))
        #expect(warehouse.held.count == 1)

        // A capture holds and confirms in one write: what is committed is
        // CONFIRMED, and a HELD copy kept from the hold would let a release
        // through (before the fix: an internal error, not this refusal).
        let caller = agent
        let sold = try reserved(
            try await warehouse.reserve(owner: "acme-travel", lines: [line(2)], holdSeconds: 0, reference: "captured", onCommit: { db, record in
                _ = try warehouse.confirm(in: db, id: record.id, caller: caller)
            })
        )
        #expect(warehouse.held.count == 1)
        await #expect(throws: WarehouseError.notHeld(.confirmed)) { _ = try await warehouse.release(id: sold.id, caller: agent) }

        // A hold whose write fails is not kept either.
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            _ = try await warehouse.reserve(owner: "acme-travel", lines: [line(3)], holdSeconds: 0, reference: "failed", onCommit: { _, _ in throw Refused() })
        }
        #expect(warehouse.held.count == 1)

        // Settling takes it out; the extended window is read back from the table.
        #expect(try await warehouse.extend(id: kept.id, holdSeconds: 120, caller: agent).expiresAtMilliseconds == clock.nowMilliseconds + 120_000)
        #expect(warehouse.held.count == 0)
        clock.advance(by: .seconds(121))
        await #expect(throws: WarehouseError.self) { _ = try await warehouse.confirm(id: kept.id, caller: agent) }
        #expect(try await warehouse.reservation(id: kept.id, caller: agent).state == .expired)
        #expect(try await free(warehouse) == 8)
        let audit = try await warehouse.audit(caller: WarehouseCaller(principal: "ops", kinds: [.admin]))
        #expect(audit.discrepancies.isEmpty)
        #expect(audit.sold == 2)
    }

    @Test("a bundle holds every line or none, and a shortage reports the free count")
    func bundles() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 5, sku: "tent")
        try await stock(warehouse, 1, sku: "stove")
        // The shortage is committed as an answer: the hook writes in the same
        // transaction, while the tent line's hold is undone.
        final class Seen: Sendable { let tentHeld = Mutex<Int64?>(nil) }
        let seen = Seen()
        let outcome = try await warehouse.reserve(
            owner: "acme-travel", lines: [line(2, sku: "tent"), line(2, sku: "stove")], holdSeconds: 60, reference: "",
            onShortage: { db, _ in
                let held = try Int64.fetchOne(db, sql: "SELECT held FROM warehouse_sku WHERE sku = 'tent'")
                seen.tentHeld.withLock { $0 = held }
            },
            onCommit: { _, _ in throw WarehouseError.invalid(field: "test", description: "nothing was held") }
        )
        #expect(seen.tentHeld.withLock { $0 } == 0)
        #expect(outcome == .shortage([LineShortage(line: 1, merchant: "widgets", sku: "stove", requested: 2, free: 1)]))
        #expect(try await free(warehouse, sku: "tent") == 5)  // the tent line was not half-held
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(2, sku: "tent"), line(1, sku: "stove")], holdSeconds: 60, reference: ""))
        #expect(try await free(warehouse, sku: "tent") == 3)
        #expect(try await free(warehouse, sku: "stove") == 0)
    }

    @Test("allocations cannot be removed below what is free; held and sold units stay")
    func removal() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 10)
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(6)], holdSeconds: 60, reference: ""))
        await #expect(throws: WarehouseError.insufficientFree(sku: "widget", requested: 5, free: 4, field: "adjustments[0].delta")) {
            _ = try await warehouse.allocate(merchant: "widgets", adjustments: [.init(sku: "widget", delta: -5, reason: "")], caller: merchant)
        }
        // All adjustments of a call or none.
        await #expect(throws: WarehouseError.self) {
            _ = try await warehouse.allocate(
                merchant: "widgets",
                adjustments: [.init(sku: "widget", delta: -1, reason: ""), .init(sku: "widget", delta: -10, reason: "")],
                caller: merchant
            )
        }
        #expect(try await free(warehouse) == 4)
        let counters = try await warehouse.allocate(merchant: "widgets", adjustments: [.init(sku: "widget", delta: -4, reason: "to the shop")], caller: merchant)
        #expect(counters.first?.free == 0)
        #expect(counters.first?.allocated == 6)
    }

    @Test("bad input is refused with the field named and nothing changes", arguments: [
        ("unknown SKU", "lines[0].sku"), ("zero quantity", "lines[0].quantity"), ("negative quantity", "lines[0].quantity"),
        ("window over the maximum", "hold_seconds"), ("over the per-SKU cap", "lines[1].quantity"), ("no lines", "lines"),
        ("empty merchant", "lines[0].merchant"),
    ])
    func badReservations(_ case: String, _ field: String) async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 1000)
        var lines = [line(1)]
        var hold: UInt32 = 60
        switch `case` {
        case "unknown SKU": lines = [line(1, sku: "gizmo")]
        case "zero quantity": lines = [line(0)]
        case "negative quantity": lines = [line(-3)]
        case "window over the maximum": hold = 7201
        case "over the per-SKU cap": lines = [line(60), line(41)]
        case "no lines": lines = []
        default: lines = [ReservationLineRequest(merchant: "", sku: "widget", quantity: 1)]
        }
        do {
            _ = try await warehouse.reserve(owner: "acme-travel", lines: lines, holdSeconds: hold, reference: "")
            Issue.record("\(`case`) should be refused")
        } catch let error as WarehouseError {
            #expect(error.rpcError.violations.map(\.field) == [field])
            #expect(error.rpcError.code == .invalidArgument)
        }
        #expect(try await free(warehouse) == 1000)
    }

    @Test("extreme deltas are refused, never trap; a SKU's allocation has a ceiling")
    func extremes() async throws {
        let warehouse = try makeWarehouse()
        for delta in [Int64.min, Int64.max, -1_000_000_001] {
            do {
                _ = try await warehouse.allocate(merchant: "widgets", adjustments: [.init(sku: "widget", delta: delta, reason: "")], caller: merchant)
                Issue.record("delta \(delta) must be refused")
            } catch let error as WarehouseError {
                #expect(error.rpcError.violations.map(\.field) == ["adjustments[0].delta"])
            }
        }
        let batch = (0..<1000).map { _ in InventoryAdjustmentRequest(sku: "widget", delta: 1_000_000_000, reason: "") }
        _ = try await warehouse.allocate(merchant: "widgets", adjustments: batch, caller: merchant)  // 10^12: the ceiling
        await #expect(throws: WarehouseError.self) {
            _ = try await warehouse.allocate(merchant: "widgets", adjustments: [.init(sku: "widget", delta: 1, reason: "")], caller: merchant)
        }
        #expect(try await free(warehouse) == Warehouse.maxAllocatedUnits)
    }

    @Test("a merchant sees only its own lines of another agent's bundle; extending a settled reservation says so")
    func bundlePrivacy() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 10)
        let other = WarehouseCaller(principal: "gadgets", kinds: [.merchant])
        _ = try await warehouse.allocate(merchant: "gadgets", adjustments: [.init(sku: "gizmo", delta: 5, reason: "")], caller: other)
        let record = try reserved(
            try await warehouse.reserve(
                owner: "acme-travel",
                lines: [line(1), ReservationLineRequest(merchant: "gadgets", sku: "gizmo", quantity: 2)],
                holdSeconds: 60,
                reference: "trip-9"
            )
        )
        #expect(try await warehouse.reservation(id: record.id, caller: agent).lines.count == 2)
        #expect(try await warehouse.reservation(id: record.id, caller: merchant).lines == [line(1)])
        #expect(try await warehouse.reservations(caller: other, state: nil, limit: 10).first?.lines.map(\.merchant) == ["gadgets"])
        // Two lines of one merchant list the reservation once, and newest first.
        clock.advance(by: .milliseconds(5))
        let later = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(1), line(2, sku: "widget")], holdSeconds: 60, reference: ""))
        #expect(try await warehouse.reservations(caller: merchant, state: nil, limit: 10).map(\.id) == [later.id, record.id])
        #expect(try await warehouse.reservations(caller: merchant, state: .held, limit: 1).map(\.id) == [later.id])
        _ = try await warehouse.confirm(id: record.id, caller: agent)
        await #expect(throws: WarehouseError.notHeld(.confirmed)) {
            _ = try await warehouse.extend(id: record.id, holdSeconds: 60, caller: agent)
        }
    }

    @Test("an agent holds at most the configured number of reservations; settling or lapsing frees a slot")
    func perAgentCap() async throws {
        let warehouse = try makeWarehouse { $0.maxHeldReservationsPerAgent = 3 }
        try await stock(warehouse, 100)
        var held: [ReservationRecord] = []
        for _ in 0..<3 { held.append(try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 60, reference: ""))) }
        do {
            _ = try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 60, reference: "")
            Issue.record("a fourth held reservation must be refused")
        } catch let error as WarehouseError {
            #expect(error == .tooManyHeld(limit: 3))
            #expect(error.rpcError.code == .resourceExhausted)
        }
        #expect(try await free(warehouse) == 97)  // the refused one held nothing
        // Another agent is not affected.
        _ = try reserved(try await warehouse.reserve(owner: "other-agency", lines: [line(1)], holdSeconds: 60, reference: ""))
        _ = try await warehouse.release(id: held[0].id, caller: agent)
        held[0] = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 600, reference: ""))
        clock.advance(by: .seconds(60))  // two of acme's lapse
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 60, reference: ""))
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 60, reference: ""))
        let audit = try await warehouse.audit(caller: WarehouseCaller(principal: "ops", kinds: [.admin]))
        #expect(audit.balances, "\(audit.discrepancies)")
    }

    @Test("an agent's held reservations hold at most the configured units in all; settling frees them, other agents are not affected")
    func perAgentUnits() async throws {
        let database = try ParleyDatabase.inMemory(migrations: WarehouseSchema.migrations)
        let warehouse = try makeWarehouse(database: database) { $0.maxHeldUnitsPerAgent = 10 }
        try await stock(warehouse, 100)
        let first = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(4)], holdSeconds: 60, reference: ""))
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(3), line(3)], holdSeconds: 60, reference: ""))
        await #expect(throws: WarehouseError.tooManyUnits(limit: 10, held: 10, requested: 1)) {
            _ = try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 60, reference: "")
        }
        // One reservation alone over the quota is refused without holding anything.
        await #expect(throws: WarehouseError.tooManyUnits(limit: 10, held: 0, requested: 11)) {
            _ = try await warehouse.reserve(owner: "new-agency", lines: [line(6), line(5)], holdSeconds: 60, reference: "")
        }
        #expect(try await free(warehouse) == 90)
        _ = try reserved(try await warehouse.reserve(owner: "other-agency", lines: [line(10)], holdSeconds: 60, reference: ""))
        _ = try await warehouse.confirm(id: first.id, caller: agent)
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(4)], holdSeconds: 60, reference: ""))
        clock.advance(by: .seconds(60))  // every hold lapses: the quota is free again
        _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(10)], holdSeconds: 60, reference: ""))
        let units = try await database.writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT units FROM warehouse_owner WHERE owner = 'acme-travel'")
        }
        #expect(units == 10)
        let audit = try await warehouse.audit(caller: WarehouseCaller(principal: "ops", kinds: [.admin]))
        #expect(audit.balances, "\(audit.discrepancies)")
    }

    @Test("a merchant changes only its own stock")
    func otherMerchant() async throws {
        let warehouse = try makeWarehouse()
        await #expect(throws: WarehouseError.notYourMerchant(field: "merchant")) {
            _ = try await warehouse.allocate(merchant: "someone-else", adjustments: [.init(sku: "x", delta: 1, reason: "")], caller: merchant)
        }
        await #expect(throws: WarehouseError.self) {
            _ = try await warehouse.allocate(merchant: "widgets", adjustments: [.init(sku: "x", delta: 0, reason: "")], caller: merchant)
        }
    }

    @Test("the sweeper writes down lapsed reservations and the ledger still balances")
    func sweeper() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 50)
        for _ in 0..<10 { _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(2)], holdSeconds: 10, reference: "")) }
        #expect(try await warehouse.sweepExpired() == 0)
        clock.advance(by: .seconds(10))
        #expect(try await warehouse.sweepExpired() == 10)
        #expect(try await warehouse.reservations(caller: agent, state: .expired, limit: 100).count == 10)
        // Lapsed but not yet swept still lists as expired, and a full page is full.
        for _ in 0..<5 { _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(1)], holdSeconds: 10, reference: "")) }
        #expect(try await warehouse.reservations(caller: agent, state: .held, limit: 100).count == 5)
        clock.advance(by: .seconds(10))
        #expect(try await warehouse.reservations(caller: agent, state: .held, limit: 100).isEmpty)
        #expect(try await warehouse.reservations(caller: agent, state: .expired, limit: 15).count == 15)
        #expect(try await warehouse.reservations(caller: agent, state: .expired, limit: 3).count == 3)
        #expect(try await warehouse.reservations(caller: merchant, state: nil, limit: 100).count == 15)
        _ = try await warehouse.sweepExpired()
        let audit = try await warehouse.audit(caller: merchant)
        #expect(audit.balances, "\(audit.discrepancies)")
        #expect(audit.free == 50)
    }

    @Test("the running sweeper writes nothing while no reservation is due (cached stock stays valid), and writes a lapsed one down")
    func idleSweeper() async throws {
        let warehouse = try makeWarehouse { $0.sweepInterval = .milliseconds(5) }
        try await stock(warehouse, 10)
        let record = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(2)], holdSeconds: 10, reference: ""))
        let before = warehouse.database.batchedWriter.batchesEnded
        let sweeper = Task { await warehouse.runSweeper() }
        defer { sweeper.cancel() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(warehouse.database.batchedWriter.batchesEnded == before)
        #expect(try await warehouse.anyDue() == false)
        clock.advance(by: .seconds(10))
        let deadline = ContinuousClock.now + .seconds(10)
        while try await warehouse.anyDue(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(warehouse.database.batchedWriter.batchesEnded > before)
        let written = try await warehouse.database.writer.read { db in
            try String.fetchOne(db, sql: "SELECT state FROM warehouse_reservation WHERE id = ?", arguments: [record.id])
        }
        #expect(written == "EXPIRED")
    }

    @Test("a backlog of lapsed reservations is written down in chunks, each its own transaction, and the ledger balances")
    func backlog() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 100)
        for _ in 0..<25 { _ = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(2)], holdSeconds: 10, reference: "")) }
        clock.advance(by: .seconds(10))
        var reported: [Int] = []
        #expect(try await warehouse.sweepBacklog(chunk: 10) { reported.append($0) } == 25)
        #expect(reported == [10, 20, 25])
        #expect(try await warehouse.reservations(caller: agent, state: .expired, limit: 100).count == 25)
        #expect(try await warehouse.sweepBacklog(chunk: 10) == 0)
        let audit = try await warehouse.audit(caller: merchant)
        #expect(audit.balances && audit.free == 100, "\(audit.discrepancies)")
    }

    @Test("a merchant's settings set its default window and per-SKU cap")
    func settings() async throws {
        let warehouse = try makeWarehouse()
        try await stock(warehouse, 100)
        let settings = try await warehouse.updateSettings(merchant: "widgets", defaultHoldSeconds: 600, maxUnitsPerSKU: 5)
        #expect(settings.defaultHoldSeconds == 600)
        let record = try reserved(try await warehouse.reserve(owner: "acme-travel", lines: [line(5)], holdSeconds: 0, reference: ""))
        #expect(record.expiresAtMilliseconds == clock.nowMilliseconds + 600_000)
        await #expect(throws: WarehouseError.self) {
            _ = try await warehouse.reserve(owner: "acme-travel", lines: [line(6)], holdSeconds: 0, reference: "")
        }
    }
}
