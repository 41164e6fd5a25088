import GRDB
import ParleyStore

extension Warehouse {
    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    /// Checks every SKU's counters against the ledger and the open holds:
    /// allocated, held and sold must each equal their ledger sums, held must
    /// equal the units of still-held reservation lines, and nothing may be
    /// negative or oversold. A merchant audits its own SKUs; admin all.
    public nonisolated func audit(caller: WarehouseCaller) async throws -> InventoryAudit {
        let merchant: String? = caller.is(.admin) ? nil : caller.principal
        return try await database.writer.read { db in
            var ledger: [String: (allocated: Int64, held: Int64, sold: Int64)] = [:]
            var entries = 0
            let filter = merchant == nil ? "" : "WHERE merchant = ?"
            let arguments: StatementArguments = merchant.map { [$0] } ?? []
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT merchant, sku, kind, SUM(quantity) AS units, COUNT(*) AS entries
                    FROM warehouse_ledger \(filter) GROUP BY merchant, sku, kind
                    """,
                arguments: arguments
            ) {
                let key = "\(row["merchant"] as String)\u{0}\(row["sku"] as String)"
                let units: Int64 = row["units"]
                entries += row["entries"] as Int
                var sums = ledger[key] ?? (0, 0, 0)
                switch row["kind"] as String {
                case "allocate": sums.allocated += units
                case "deallocate": sums.allocated -= units
                case "hold": sums.held += units
                case "release", "expire": sums.held -= units
                case "confirm":
                    sums.held -= units
                    sums.sold += units
                default: break
                }
                ledger[key] = sums
            }
            var open: [String: Int64] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT l.merchant, l.sku, SUM(l.quantity) AS units
                    FROM warehouse_reservation r JOIN warehouse_reservation_line l ON l.reservation_id = r.id
                    WHERE r.state = 'HELD' \(merchant == nil ? "" : "AND l.merchant = ?") GROUP BY l.merchant, l.sku
                    """,
                arguments: arguments
            ) {
                open["\(row["merchant"] as String)\u{0}\(row["sku"] as String)"] = row["units"]
            }
            var audit = InventoryAudit(skus: 0, ledgerEntries: entries, allocated: 0, held: 0, sold: 0, discrepancies: [])
            var seen = Set<String>()
            for counters in try Store.allCounters(db, merchant: merchant) {
                let key = "\(counters.merchant)\u{0}\(counters.sku)"
                seen.insert(key)
                audit.skus += 1
                // Totals saturate rather than trap (each SKU is far below the limit).
                audit.allocated = Self.saturatingAdd(audit.allocated, counters.allocated)
                audit.held = Self.saturatingAdd(audit.held, counters.held)
                audit.sold = Self.saturatingAdd(audit.sold, counters.sold)
                func problem(_ text: String) {
                    audit.discrepancies.append(.init(merchant: counters.merchant, sku: counters.sku, problem: text))
                }
                let sums = ledger[key] ?? (0, 0, 0)
                if sums.allocated != counters.allocated { problem("allocated \(counters.allocated) but the ledger says \(sums.allocated)") }
                if sums.held != counters.held { problem("held \(counters.held) but the ledger says \(sums.held)") }
                if sums.sold != counters.sold { problem("sold \(counters.sold) but the ledger says \(sums.sold)") }
                if (open[key] ?? 0) != counters.held { problem("held \(counters.held) but open reservation lines hold \(open[key] ?? 0)") }
                if counters.free < 0 { problem("oversold: free is \(counters.free)") }
            }
            if merchant == nil {
                // Each agent's held count must match its HELD reservations.
                let mismatched = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT o.owner, o.held, COALESCE(r.n, 0) AS actual FROM warehouse_owner o
                        LEFT JOIN (SELECT owner, COUNT(*) AS n FROM warehouse_reservation WHERE state = 'HELD' GROUP BY owner) r
                        ON r.owner = o.owner WHERE o.held != COALESCE(r.n, 0)
                        UNION ALL
                        SELECT r.owner, 0, COUNT(*) FROM warehouse_reservation r
                        WHERE r.state = 'HELD' AND NOT EXISTS (SELECT 1 FROM warehouse_owner o WHERE o.owner = r.owner)
                        GROUP BY r.owner
                        """
                )
                for row in mismatched {
                    audit.discrepancies.append(
                        .init(merchant: "", sku: "", problem: "agent \(row["owner"] as String) counted \(row["held"] as Int64) held reservations but holds \(row["actual"] as Int64)")
                    )
                }
            }
            for key in ledger.keys where !seen.contains(key) {
                let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
                audit.discrepancies.append(.init(merchant: String(parts[0]), sku: String(parts.count > 1 ? parts[1] : ""), problem: "ledger entries for a SKU with no counters"))
            }
            return audit
        }
    }
}
