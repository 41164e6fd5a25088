import ParleyProtos
import ParleyWarehouse
import Synchronization

/// The inventory plug-in: the lines' stock in the Warehouse. A SKU the
/// warehouse does not know is not stock-tracked and is left alone; a line
/// wanting more than is free gets `INVENTORY_SHORT` with "take what is free"
/// and "remove the line" as its menu. Its stock-tracked lines are the order's
/// holds (reserved on quote when the merchant asks for it, and at capture).
/// Under Capture the counts may be the last seen
/// (``PluginContext/stockMayBeLastSeen``,
/// ``Warehouse/availabilityBeforeReserving(_:)``): when they overstate what
/// is free, the capture's hold refuses and its shortages make the same
/// amendments (``shortages(after:lines:lineCount:currency:)``), listed after
/// the others. When anything else refuses the order first, Capture counts
/// its stock exactly (``exactShortages(_:_:)``), so that the refusal lists
/// any shortage too.
struct InventoryPlugin: SometimesInlineOrderPlugin {
    let warehouse: Warehouse
    var name: String { "inventory" }
    var point: CallOutPoint { .afterItemCheck }
    var interests: Set<PluginInterest> { [.always] }
    var defaultTimeoutMilliseconds: UInt32 { 200 }
    var defaultFailOpen: Bool { false }

    /// From counts in memory: cached (Negotiate) or last seen (Capture).
    func runIfImmediate(_ context: PluginContext) throws -> PluginResult? {
        guard !context.lines.isEmpty else { return PluginResult() }
        let wanted = Self.wanted(context)
        return warehouse.availabilityInMemory(wanted, beforeReserving: context.stockMayBeLastSeen).map { Self.result(context, stock: $0) }
    }

    func run(_ context: PluginContext) async throws -> PluginResult {
        guard !context.lines.isEmpty else { return PluginResult() }
        let wanted = Self.wanted(context)
        // Capture reserves what it finds free, and the reservation checks
        // again: counts last seen do when they suffice.
        let stock = try context.stockMayBeLastSeen
            ? warehouse.availabilityBeforeReserving(wanted)
            : warehouse.availabilityNow(wanted.map { (merchant: $0.merchant, sku: $0.sku) })
        return Self.result(context, stock: stock)
    }

    /// The shortages of `context`'s lines by an exact count of their stock.
    static func exactShortages(_ warehouse: Warehouse, _ context: PluginContext) throws -> [Amendment] {
        guard !context.lines.isEmpty else { return [] }
        let stock = try warehouse.availabilityNow(wanted(context).map { (merchant: $0.merchant, sku: $0.sku) })
        return result(context, stock: stock).amendments
    }

    /// Each SKU of the order once, with the units its lines want.
    private static func wanted(_ context: PluginContext) -> [(merchant: String, sku: String, wanted: Int64)] {
        let merchant = context.setup.merchant
        var skus: [(merchant: String, sku: String, wanted: Int64)] = []
        for line in context.lines {
            if let index = skus.firstIndex(where: { $0.sku == line.item.sku }) {
                skus[index].wanted += line.quantity
            } else {
                skus.append((merchant: merchant, sku: line.item.sku, wanted: line.quantity))
            }
        }
        return skus
    }

    private static func result(_ context: PluginContext, stock: [SkuAvailability]) -> PluginResult {
        let merchant = context.setup.merchant
        var quoted: [String: Int64] = [:]
        for hold in context.quotedHolds where hold.merchant == merchant { quoted[hold.sku, default: 0] += hold.quantity }
        let free = Dictionary(uniqueKeysWithValues: stock.filter(\.known).map { ($0.sku, $0.free + quoted[$0.sku, default: 0]) })
        let tracked = context.lines.filter { free[$0.item.sku] != nil }
        return PluginResult(
            amendments: Self.shortages(
                lines: tracked,
                free: free,
                lineCount: context.request.lines.count,
                currency: context.setup.currency
            ),
            holds: tracked.map { ReservationLineRequest(merchant: merchant, sku: $0.item.sku, quantity: $0.quantity) }
        )
    }

    /// `INVENTORY_SHORT` for each line wanting more than is `free` of its SKU
    /// (earlier lines of the same SKU taking theirs first), with "take what is
    /// in stock" and, when the order has other lines, "remove the line".
    static func shortages(
        lines: [PricedLine],
        free: [String: Int64],
        lineCount: Int,
        currency: CurrencyCode
    ) -> [Amendment] {
        var free = free
        var amendments: [Amendment] = []
        for line in lines {
            guard let available = free[line.item.sku] else { continue }
            let take = min(max(available, 0), line.quantity)
            free[line.item.sku] = available - take
            guard take < line.quantity else { continue }
            let path = "lines[\(line.index)].quantity"
            var alternatives: [Amendment.Alternative] = []
            if take > 0 {
                alternatives.append(
                    Amendment.Alternative(
                        description: "take the \(take) in stock",
                        replacements: [Amendment.Replacement(path: path, value: .integer(take))],
                        priceDifference: Money(minorUnits: -line.unitPrice.minorUnits * (line.quantity - take), currency: currency)
                    )
                )
            }
            if lineCount > 1 {
                alternatives.append(
                    Amendment.Alternative(
                        description: "remove the line",
                        replacements: [Amendment.Replacement(path: "lines[\(line.index)]", value: .remove)],
                        priceDifference: Money(minorUnits: -line.lineTotal.minorUnits, currency: currency)
                    )
                )
            }
            amendments.append(
                Amendment(
                    path: path,
                    code: .inventoryShort,
                    message: "\(line.quantity) of \(line.item.sku) wanted, \(take) in stock",
                    alternatives: alternatives
                )
            )
        }
        return amendments
    }

    /// The amendments for a reservation the warehouse refused: its shortages
    /// give the free units of the SKUs that ran short.
    static func shortages(after refusal: [LineShortage], lines: [PricedLine], lineCount: Int, currency: CurrencyCode) -> [Amendment] {
        var free: [String: Int64] = [:]
        for shortage in refusal { free[shortage.sku] = shortage.free }
        return shortages(lines: lines, free: free, lineCount: lineCount, currency: currency)
    }
}

/// The fraud avoidance plug-in (FIG. 3): the merchant's rules against the
/// request and the rolling statistics. Violations are logged (see
/// ``FraudBook``); one that rejects is a blocking `FRAUD_REJECTED` amendment
/// without alternatives, one that flags a `FRAUD_FLAGGED` notice.
struct FraudAvoidancePlugin: InlineOrderPlugin {
    let book: FraudBook
    var name: String { "fraud_avoidance" }
    var point: CallOutPoint { .afterPaymentCheck }
    var interests: Set<PluginInterest> { [.always] }
    var defaultTimeoutMilliseconds: UInt32 { 50 }
    var defaultFailOpen: Bool { false }

    func runInline(_ context: PluginContext) throws -> PluginResult {
        guard !context.setup.fraudRules.isEmpty, let subject = FraudSubject(context) else { return PluginResult() }
        let violations = book.evaluate(subject, merchant: context.setup.merchant, rules: context.setup.fraudRules, now: context.now)
        if !violations.isEmpty {
            book.log(violations, merchant: context.setup.merchant, agent: context.agent, orderID: context.request.orderID)
        }
        return PluginResult(amendments: violations.map(\.amendment))
    }
}

extension FraudSubject {
    /// The subject of an order as the payment check left it; nil before it has a total.
    init?(_ context: PluginContext) {
        guard let total = context.total else { return nil }
        self.init(request: context.request, cardFingerprint: context.payment?.card?.fingerprint, lines: context.lines.map(FraudLine.init), total: total)
    }

    /// The subject of `request` (buyer and delivery keys; empty fields are absent).
    init(request: Parley_V1_OrderAcceptanceRequest, cardFingerprint: String?, lines: [FraudLine], total: Money) {
        let buyer = request.buyer
        let present: (String) -> String? = { $0.isEmpty ? nil : $0 }
        self.init(
            buyerID: present(buyer.id),
            buyerClass: present(buyer.buyerClass),
            email: present(buyer.email),
            ipAddress: present(buyer.ipAddress),
            cardFingerprint: cardFingerprint.flatMap(present),
            postalCode: present(request.shippingAddress.postalCode),
            lines: lines,
            total: total
        )
    }
}

/// The rolling statistics of every merchant, and the violation log's queue.
/// Reads and records are short critical sections, so a negotiation needs no actor hop.
final class FraudBook: Sendable {
    private let statistics = Mutex<[String: FraudStatistics]>([:])
    let limits: FraudStatistics.Limits
    /// Appends violations to the event log (off the reply path).
    let sink: @Sendable ([FraudEventRecord]) -> Void

    init(limits: FraudStatistics.Limits = .defaults, sink: @escaping @Sendable ([FraudEventRecord]) -> Void) {
        self.limits = limits
        self.sink = sink
    }

    // The subject's keys are made before the lock is taken: every
    // negotiation of every merchant goes through this one lock, and making
    // them (normalizing each value) was most of the time spent holding it.

    func evaluate(_ subject: FraudSubject, merchant: String, rules: [FraudRule], now: Int64) -> [FraudViolation] {
        let contributions = subject.contributions
        return statistics.withLock { all in
            FraudAvoidance.evaluate(
                subject, contributions: contributions, rules: rules, statistics: all[merchant] ?? FraudStatistics(limits: limits), now: now
            )
        }
    }

    func record(_ subject: FraudSubject, merchant: String, outcome: FraudOutcome, at: Int64, snapshotKinds: Set<FraudKeyKind>? = nil) {
        let contributions = subject.contributions
        statistics.withLock { all in
            all[merchant, default: FraudStatistics(limits: limits)].record(contributions, outcome: outcome, at: at, snapshotKinds: snapshotKinds)
        }
    }

    func log(_ violations: [FraudViolation], merchant: String, agent: String, orderID: String) {
        sink(violations.map { FraudEventRecord(merchant: merchant, agent: agent, orderID: orderID, violation: $0) })
    }

    /// Drops keys past the retention (run periodically); the lock is taken
    /// once per merchant, so negotiations wait for one merchant's work at most.
    func evictExpired(now: Int64) {
        for merchant in merchants() {
            statistics.withLock { all in all[merchant]?.evictExpired(now: now) }
        }
    }

    /// Every merchant's snapshot changes since the last call (see
    /// ``FraudStatistics/takeChanges()``), one merchant per lock.
    func takeChanges() -> [(merchant: String, changes: [FraudStatistics.SnapshotChange])] {
        merchants().compactMap { merchant in
            let changes = statistics.withLock { all in all[merchant]?.takeChanges() ?? [] }
            return changes.isEmpty ? nil : (merchant, changes)
        }
    }

    private func merchants() -> [String] {
        statistics.withLock { Array($0.keys) }
    }

    /// Marks `keys` of `merchant` changed again after a failed snapshot write.
    func markChanged(_ keys: [FraudKey], merchant: String) {
        statistics.withLock { all in all[merchant, default: FraudStatistics(limits: limits)].markChanged(keys) }
    }

    /// Marks `merchant`'s keys of `kinds` for the next snapshot (its rules now count them).
    func markChanged(kinds: Set<FraudKeyKind>, merchant: String) {
        guard !kinds.isEmpty else { return }
        statistics.withLock { all in all[merchant]?.markChanged(kinds: kinds) }
    }

    /// Puts back one event read from a snapshot.
    func restore(_ key: FraudKey, _ event: FraudStatistics.SnapshotEvent, merchant: String) {
        statistics.withLock { all in all[merchant, default: FraudStatistics(limits: limits)].restore(key: key, event: event) }
    }
}

/// One violation log entry before it is written.
struct FraudEventRecord: Sendable {
    var merchant: String
    var agent: String
    var orderID: String
    var violation: FraudViolation
}
