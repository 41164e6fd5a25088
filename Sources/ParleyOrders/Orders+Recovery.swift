import Foundation
import GRDB
import Logging
import ParleyProtos
import ParleyStore
import SwiftProtobuf

/// Who reads orders and fraud events.
public struct OrdersCaller: Sendable, Hashable {
    public var principal: String
    public var isAgent: Bool
    public var isMerchant: Bool
    public var isAdmin: Bool

    public init(principal: String, isAgent: Bool, isMerchant: Bool, isAdmin: Bool) {
        self.principal = principal
        self.isAgent = isAgent
        self.isMerchant = isMerchant
        self.isAdmin = isAdmin
    }
}

extension Orders {
    // MARK: Start-up recovery and reconciliation

    /// What ``recover()`` did.
    public struct RecoveryReport: Sendable, Hashable {
        /// Orders left PENDING or AUTHORIZED that were finished: captured or failed.
        public var captured = 0
        public var failed = 0
        /// Processor authorizations without a captured order, voided.
        public var voided = 0
        /// Authorizations of captured orders the processor had not captured yet.
        public var settled = 0
    }

    /// Finishes every order left between sub-transactions, then reconciles
    /// the processor's open authorizations with the orders: an authorization
    /// whose order is CAPTURED is captured, any other is voided — so there is
    /// no charge without an order and no captured order without a charge.
    /// Run before serving.
    @discardableResult
    public nonisolated func recover() async throws -> RecoveryReport {
        var report = RecoveryReport()
        let open = try await database.writer.read { db in try OrdersStore.openOrders(db) }
        for stored in open {
            let order = try await resume(stored)
            if order.state == .captured { report.captured += 1 } else { report.failed += 1 }
        }
        while true {
            let authorizations = try await processor.openAuthorizations(limit: 500)
            if authorizations.isEmpty { break }
            var capture: [String] = []
            for authorization in authorizations {
                let state = try await database.writer.read { db in try OrdersStore.state(db, of: authorization) }
                if state == "CAPTURED" {
                    capture.append(authorization.key)
                } else {
                    try await processor.void(key: authorization.key)
                    report.voided += 1
                }
            }
            try await processor.capture(keys: capture)
            report.settled += capture.count
        }
        if open.count + report.voided + report.settled > 0 {
            logger.notice(
                "orders recovered",
                metadata: [
                    "captured": "\(report.captured)", "failed": "\(report.failed)",
                    "voided": "\(report.voided)", "settled": "\(report.settled)",
                ]
            )
        }
        return report
    }

    /// Rolling statistics within the retention: accepted requests from the
    /// captured orders, quote-only and rejected ones from the last snapshot
    /// (``snapshotFraudStatistics(rowsPerWrite:)``), replayed in time order.
    nonisolated func rebuildFraudStatistics() throws {
        let since = clock.nowMilliseconds - fraud.limits.retentionMilliseconds
        let (rows, snapshot) = try database.writer.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT merchant, request, acceptance, card_fingerprint, updated_at_ms FROM orders_order
                    WHERE state = 'CAPTURED' AND updated_at_ms > ? ORDER BY updated_at_ms
                    """,
                arguments: [since]
            )
            return (rows, try FraudSnapshotStore.rows(db, after: since))
        }
        enum Replay {
            case captured(merchant: String, FraudSubject)
            case snapshot(merchant: String, FraudKey, FraudStatistics.SnapshotEvent)
        }
        // Sorted by time, then by reading order (a stable order for events of
        // the same millisecond: it decides which a full ring keeps).
        var replays: [(at: Int64, sequence: Int, replay: Replay)] = []
        for row in rows {
            let merchant: String = row[0]
            guard let setup = setup(for: merchant) else { continue }
            let request = try Parley_V1_OrderAcceptanceRequest(serializedBytes: row[1] as Data)
            let acceptance = try Parley_V1_OrderAcceptanceResponse(serializedBytes: row[2] as Data)
            let lines = acceptance.order.lines.enumerated().filter { !$0.element.free }.map { index, line in
                FraudLine(
                    path: "lines[\(index)]", sku: line.sku,
                    itemClass: setup.catalog.item(sku: line.sku)?.itemClass ?? "",
                    quantity: line.quantity,
                    amount: Money(minorUnits: line.lineTotal.minorUnits, currency: setup.currency)
                )
            }
            let subject = FraudSubject(
                request: request,
                cardFingerprint: row[3],
                lines: lines,
                total: Money(minorUnits: acceptance.order.total.minorUnits, currency: setup.currency)
            )
            replays.append((row[4], replays.count, .captured(merchant: merchant, subject)))
        }
        for row in snapshot.rows {
            for event in row.events { replays.append((event.at, replays.count, .snapshot(merchant: row.merchant, row.key, event))) }
        }
        replays.sort { ($0.at, $0.sequence) < ($1.at, $1.sequence) }
        for (at, _, replay) in replays {
            switch replay {
            case .captured(let merchant, let subject): fraud.record(subject, merchant: merchant, outcome: .accepted, at: at)
            case .snapshot(let merchant, let key, let event): fraud.restore(key, event, merchant: merchant)
            }
        }
        if snapshot.unreadable > 0 {
            logger.warning("fraud statistics snapshot rows not readable; skipped", metadata: ["rows": "\(snapshot.unreadable)"])
        }
    }

    /// Writes the rolling fraud statistics' quote-only and rejected events
    /// that changed since the last snapshot (captured orders need none: they
    /// are rebuilt from their table), `rowsPerWrite` keys per batched write
    /// so that no batch is held up by a large snapshot; first drops the keys
    /// past the retention, and afterwards the snapshot rows whose newest
    /// event is. Returns how many keys were written or deleted. Keys whose
    /// write failed are written by the next snapshot.
    ///
    /// The daemon runs it every `orders.fraud_snapshot_interval_ms` and once
    /// more at shutdown, after the listener has drained and running captures
    /// have ended (``waitForCaptures(upTo:)``): a crash loses about one
    /// interval of quote-only and rejected requests from the statistics.
    @discardableResult
    public nonisolated func snapshotFraudStatistics(rowsPerWrite: Int = 500) async throws -> Int {
        let now = clock.nowMilliseconds
        fraud.evictExpired(now: now)
        let rows = fraud.takeChanges().flatMap { merchant, changes in
            changes.map { EncodedFraudSnapshotRow(FraudSnapshotRow(merchant: merchant, key: $0.key, events: $0.events)) }
        }
        var written = 0
        while written < rows.count {
            let chunk = Array(rows[written..<min(written + max(rowsPerWrite, 1), rows.count)])
            do {
                try await database.batchedWriter.write { db in try FraudSnapshotStore.write(db, chunk) }
            } catch {
                for (merchant, unwritten) in Dictionary(grouping: rows[written...], by: \.merchant) {
                    fraud.markChanged(unwritten.map(\.key), merchant: merchant)
                }
                throw error
            }
            written += chunk.count
        }
        let cutoff = now - fraud.limits.retentionMilliseconds
        _ = try await database.batchedWriter.write { db in try FraudSnapshotStore.prune(db, before: cutoff) }
        return rows.count
    }

    // MARK: Outbox

    /// The post-capture worker: settles captured orders' authorizations with
    /// the processor and sends the confirmation (or failure) notification —
    /// in this daemon a log line — then marks the entries done. Woken after
    /// each capture; runs until its task is cancelled.
    public func runOutbox() async {
        var wakeups = outboxWakeups.makeAsyncIterator()
        while true {
            do {
                while try await processOutbox(limit: 200) > 0 {}
            } catch {
                logger.error("outbox processing failed; retrying on the next wake-up", metadata: ["error": "\(error)"])
            }
            let woken = await wakeups.next() != nil
            guard woken, !Task.isCancelled else { return }
        }
    }

    /// Processes up to `limit` outbox entries; returns how many.
    @discardableResult
    public nonisolated func processOutbox(limit: Int) async throws -> Int {
        let entries = try await database.writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT id, kind, agent, order_id FROM orders_outbox WHERE done_at_ms IS NULL ORDER BY id LIMIT ?",
                arguments: [limit]
            ).map { row in (id: row[0] as Int64, kind: row[1] as String, key: OrderKey(agent: row[2], orderID: row[3])) }
        }
        guard !entries.isEmpty else { return 0 }
        try await processor.capture(keys: entries.filter { $0.kind == "captured" }.map(\.key.processorKey))
        for entry in entries {
            logger.info(
                entry.kind == "captured" ? "order confirmation sent" : "order failure notification sent",
                metadata: ["agent": "\(entry.key.agent)", "order": "\(entry.key.orderID)"]
            )
        }
        let ids = entries.map(\.id)
        let now = clock.nowMilliseconds
        try await database.batchedWriter.write { db in
            for id in ids {
                try db.executeDirect(sql: "UPDATE orders_outbox SET done_at_ms = ? WHERE id = ?") { binder in
                    binder.bind(now)
                    binder.bind(id)
                }
            }
        }
        return entries.count
    }

    // MARK: Queries

    /// One order: its agent's, its merchant's, or admin's to see.
    public nonisolated func order(id: String, agent: String, caller: OrdersCaller) async throws -> Parley_V1_Order {
        try Self.validateName(id, field: "order_id")
        let owner = agent.isEmpty ? caller.principal : agent
        let stored = try await database.writer.read { db in try OrdersStore.order(db, OrderKey(agent: owner, orderID: id)) }
        guard let order = stored?.order,
            caller.isAdmin || (caller.isAgent && order.agent == caller.principal) || (caller.isMerchant && order.merchant == caller.principal)
        else {
            throw OrdersError(code: .notFound, message: "no order '\(id)' of agent '\(owner)' visible to you", field: "order_id")
        }
        return order
    }

    /// An agent's own orders, a merchant's orders placed with it (admin:
    /// everyone's), newest first.
    public nonisolated func orders(caller: OrdersCaller, state: Parley_V1_OrderState, limit: Int) async throws -> [Parley_V1_Order] {
        let limit = min(max(limit, 1), 1000)
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if caller.isAgent {
            conditions.append("agent = ?")
            _ = arguments.append(contentsOf: [caller.principal])
        } else if caller.isMerchant {
            conditions.append("merchant = ?")
            _ = arguments.append(contentsOf: [caller.principal])
        } else if !caller.isAdmin {
            return []
        }
        if state != .unspecified {
            conditions.append("state = ?")
            _ = arguments.append(contentsOf: [OrdersStore.stateName(state)])
        }
        _ = arguments.append(contentsOf: [limit])
        let sql = "SELECT \(OrdersStore.orderColumns) FROM orders_order"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY created_at_ms DESC LIMIT ?"
        let frozen = arguments
        return try await database.writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: frozen).map { try OrdersStore.stored($0).order }
        }
    }

    /// The fraud violation log: a merchant's own, or any merchant's (or all) for admin.
    public nonisolated func fraudEvents(merchant: String, afterID: Int64, limit: Int, caller: OrdersCaller) async throws -> [Parley_V1_FraudEvent] {
        var merchant = merchant
        if !caller.isAdmin {
            guard caller.isMerchant, merchant.isEmpty || merchant == caller.principal else {
                throw OrdersError(code: .permissionDenied, message: "a merchant sees its own fraud events only", field: "merchant")
            }
            merchant = caller.principal
        }
        let limit = min(max(limit, 1), 1000)
        let filter = merchant
        return try await database.writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, merchant, agent, order_id, rule_id, key_kind, key_value, observed, limit_value, action, at_ms
                    FROM orders_fraud_event WHERE (?1 = '' OR merchant = ?1) AND id > ?2 ORDER BY id LIMIT ?3
                    """,
                arguments: [filter, afterID, limit]
            ).map { row in
                var event = Parley_V1_FraudEvent()
                event.id = row[0]
                event.merchant = row[1]
                event.agent = row[2]
                event.orderID = row[3]
                event.ruleID = row[4]
                event.key = row[5]
                event.keyValue = row[6]
                event.observed = row[7]
                event.limit = row[8]
                event.action = row[9]
                event.atMs = row[10]
                return event
            }
        }
    }
}
