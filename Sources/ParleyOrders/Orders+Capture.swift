import Crypto
import Foundation
import GRDB
import Logging
import ParleyProtos
import ParleyStore
import ParleyWarehouse
import SwiftProtobuf
import Synchronization

/// Capture ("buy now", seed 002): acceptance again, then three
/// sub-transactions, each committed on its own so that an interruption
/// leaves the order in a state start-up recovery can finish:
///
/// 1. pre-authorization plug-ins; the order written PENDING with its
///    inventory hold and coupon redemptions (one transaction);
/// 2. payment authorized by the processor, whose ledger is this step's
///    record (the order row stays PENDING; a decline makes it FAILED);
/// 3. final-check plug-ins; the hold confirmed, the order CAPTURED and its
///    post-capture work queued in the outbox (one transaction) — or, on a
///    refusal, the hold released, the authorization voided, the order FAILED.
///
/// With a processor whose ledger is in this database and which answers at
/// once (the simulator without latency, ``InTransactionPaymentProcessor``),
/// steps 2 and 3 run inside step 1's write, each in a savepoint of its own,
/// and the capture waits for one group commit instead of three; step 3 stays
/// a write of its own when a final-check plug-in has to run first. Nothing
/// of the recovery story changes: a crash loses the whole write or none of it.
extension Orders {
    /// The warehouse's view of Orders acting for an agent.
    static let system = WarehouseCaller(principal: "orders", kinds: [.system])

    /// Captures `request` for `agent`. Same order id and same request: the
    /// first outcome, never a second charge; same order id and another request:
    /// FAILED_PRECONDITION. Concurrent calls for one order share one run.
    public func capture(_ request: Parley_V1_OrderAcceptanceRequest, agent: String) async throws -> Parley_V1_CaptureResponse {
        try await captureReply(request, agent: agent).response
    }

    /// ``capture(_:agent:)``, with the response's encoding when the capture
    /// has it (``CaptureReply``): for the wire.
    public func captureReply(_ request: Parley_V1_OrderAcceptanceRequest, agent: String) async throws -> CaptureReply {
        let key = OrderKey(agent: agent, orderID: request.orderID)
        let mac = requestMAC(request)
        while let running = inFlight[key] {
            // The same request joins the run and gets its outcome; another one
            // waits for it to end, then is judged against what it stored.
            if running.mac == mac { return try await running.task.value }
            _ = try? await running.task.value
            if inFlight[key]?.task == running.task { inFlight[key] = nil }
        }
        let task = Task(executorPreference: captureExecutor) { try await self.runCapture(request, agent: agent, mac: mac) }
        inFlight[key] = (mac, task)
        defer { if inFlight[key]?.task == task { inFlight[key] = nil } }
        return try await task.value
    }

    /// Waits until no capture is running, for at most `limit`. A capture
    /// runs in a task of its own, so it can outlive its call (a client that
    /// cancels, a connection closed at the end of the shutdown grace); the
    /// daemon's last fraud statistics snapshot waits for those first.
    public func waitForCaptures(upTo limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while !inFlight.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// A capture's run. An order id used before is found when this run
    /// would otherwise answer without writing an order of its own: when the
    /// order's write finds the id taken, when the acceptance check refuses,
    /// or on an error before the write; the stored order's outcome is the
    /// answer then (``replayStored(_:mac:)``). A retry thus runs the
    /// acceptance check again, which writes nothing, instead of every
    /// capture reading the orders table first: that read, a fresh read
    /// transaction on a database that changes at every batch, was 9.6 % of
    /// the work loops' time under Capture (docs/benchmarks.md, session 13).
    nonisolated func runCapture(_ request: Parley_V1_OrderAcceptanceRequest, agent: String, mac: Data) async throws -> CaptureReply {
        let key = OrderKey(agent: agent, orderID: request.orderID)
        let ordered = OrderWrittenFlag()
        do {
            return try await captureAnew(request, key: key, mac: mac, ordered: ordered)
        } catch {
            // After its own order is written, an error is this run's to report.
            guard !ordered.isSet, let replay = try await replayStored(key, mac: mac) else { throw error }
            return CaptureReply(replay)
        }
    }

    /// Set once a capture has written its order (sub-transaction 1).
    final class OrderWrittenFlag: @unchecked Sendable {
        // Set and read by one run, in order.
        private(set) var isSet = false
        func set() { isSet = true }
    }

    /// The outcome of the order stored under `key`, if there is one: the
    /// order as it ended, or finished now if a run left it between
    /// sub-transactions. FAILED_PRECONDITION when it was another request.
    nonisolated func replayStored(_ key: OrderKey, mac: Data) async throws -> Parley_V1_CaptureResponse? {
        guard let stored = try storedOrder(key) else { return nil }
        guard stored.mac == mac else { throw Self.differentRequest(key) }
        if stored.order.state == .captured || stored.order.state == .failed {
            return Self.response(stored.acceptance, stored.order)
        }
        // Left between sub-transactions by another run: finish it.
        return Self.response(stored.acceptance, try await resume(stored))
    }

    private nonisolated func captureAnew(
        _ request: Parley_V1_OrderAcceptanceRequest,
        key: OrderKey,
        mac: Data,
        ordered: OrderWrittenFlag
    ) async throws -> CaptureReply {
        var request = request
        request.approval = .captureIfAcceptable
        let setup = try setup(forRequest: request)
        let agent = key.agent

        // The quote, if it still stands for this order.
        let now = clock.nowMilliseconds
        var quote: QuoteToken?
        if !request.quoteID.isEmpty {
            guard let token = QuoteToken.decode(request.quoteID, key: quoteKey) else {
                throw OrdersError.invalid("quote_id", "not a quote of this server")
            }
            guard token.agent == agent, token.merchant == setup.merchant, token.orderID == request.orderID else {
                throw OrdersError.invalid("quote_id", "the quote is for another order")
            }
            if token.expiresAtMilliseconds > now, token.linesDigest == QuoteToken.linesDigest(request.lines) { quote = token }
        }

        let controller = OrderAcceptanceController(setup: setup, now: now, cardKey: cardKey)
        // Stock as last seen: the hold checks it.
        var acceptance = try await controller.evaluate(
            request, agent: agent, plugins: plugins, isCapture: true, quotedHolds: quote?.holds ?? [], stockMayBeLastSeen: true
        )
        var response = acceptance.response
        // Refused for something else, the order never reaches its hold: its
        // stock is counted exactly, so that the refusal lists any shortage
        // too (after the other amendments). Unless the check found one,
        // which it does only from an exact count.
        if response.status != .acceptable, !acceptance.holds.isEmpty, let warehouse,
            !response.amendments.contains(where: { $0.code == Amendment.Code.inventoryShort.rawValue })
        {
            response = Self.amended(response, with: try InventoryPlugin.exactShortages(warehouse, acceptance.plugins))
        }
        if response.status == .acceptable {
            let pre = await plugins.run(.preAuthorization, acceptance.plugins)
            if !pre.amendments.isEmpty { response = Self.amended(response, with: pre.amendments) }
            acceptance.holds += pre.holds
        }
        guard response.status == .acceptable, let payment = acceptance.payment, let paymentIndex = acceptance.paymentIndex else {
            if let replay = try await replayStored(key, mac: mac) { return CaptureReply(replay) }
            recordFraud(acceptance, outcome: .rejected, at: now)
            return CaptureReply(Self.response(response, nil))
        }
        acceptance.response = response

        // Sub-transaction 1: the order, its hold and its coupon redemptions.
        var order = Parley_V1_Order()
        order.orderID = request.orderID
        order.agent = agent
        order.merchant = setup.merchant
        order.state = .pending
        order.order = response.order
        order.buyer = request.buyer
        order.shippingAddress = request.shippingAddress
        order.createdAtMs = now
        order.updatedAtMs = now
        let row = try EncodedOrderRow(OrderRow(
            key: key, merchant: setup.merchant, mac: mac, request: Self.withoutCardNumbers(request),
            acceptance: response, fingerprint: payment.card?.fingerprint ?? "", total: acceptance.total
        ))
        let wire = request.payments[paymentIndex]
        let authorization = AuthorizationRequest(
            key: key.processorKey,
            merchant: setup.merchant,
            amount: acceptance.total,
            kind: payment.kind,
            instrument: payment.kind == .card ? wire.cardNumber.filter(\.isNumber) : wire.reference,
            maskedReference: payment.reference
        )
        // A processor that authorizes inside the order's write takes
        // sub-transaction 2 into sub-transaction 1's write, and 3 too when no
        // final-check plug-in has to run in between (``authorizeInWrite``).
        let inWrite = (processor as? any InTransactionPaymentProcessor).flatMap { $0.authorizesInTransaction ? $0 : nil }
        let written = WrittenAuthorizationSlot()
        var then: CommitHook<String>?
        if let inWrite {
            let captureToo = !plugins.wouldRun(.finalCheck, acceptance.plugins)
            let random = SimulatedPaymentProcessor.randomPart()
            then = { [order] db, reservationID in
                var pending = order
                pending.reservationID = reservationID
                written.set(
                    try self.authorizeInWrite(db, processor: inWrite, authorization, random: random, pending: pending, captureToo: captureToo)
                )
            }
        }
        do {
            order = try await writePending(order, row: row, lines: acceptance.plugins.lines, holds: acceptance.holds, quote: quote, then: then)
            ordered.set()
        } catch let refusal as AcceptanceRefusal {
            if let replay = try await replayStored(key, mac: mac) { return CaptureReply(replay) }
            recordFraud(acceptance, outcome: .rejected, at: now)
            return CaptureReply(Self.response(Self.amended(response, with: refusal.amendments), nil))
        }

        // Sub-transaction 2: payment authorization, unless the write above
        // did it.
        switch written.value {
        case .captured(let captured):
            // Captured in the write, which encoded the order: the reply is
            // put together from that and the row's encoded parts.
            recordFraud(acceptance, outcome: .accepted, at: now)
            outboxSignal.yield()
            return CaptureReply(Self.response(response, captured.order), row: row, detail: captured)
        case .authorization(let record):
            order = try await recordAuthorization(order, record)
        case .processorError:
            order = try await authorize(order, authorization, attemptsMade: 1)
        case nil:
            order = try await authorize(order, authorization, attemptsMade: 0)
        }
        guard order.state == .authorized else {
            recordFraud(acceptance, outcome: .rejected, at: now)
            return CaptureReply(Self.response(response, order))
        }

        // Sub-transaction 3: final checks, then capture.
        let final = await plugins.run(.finalCheck, acceptance.plugins)
        if final.amendments.hasBlocking {
            let reasons = final.amendments.filter(\.isBlocking).map(\.message).joined(separator: "; ")
            order = try await fail(order, code: "FINAL_CHECK_REFUSED", message: reasons, void: true)
            recordFraud(acceptance, outcome: .rejected, at: now)
            return CaptureReply(Self.response(Self.amended(response, with: final.amendments), order))
        }
        order = try await finishCapture(order)
        recordFraud(acceptance, outcome: order.state == .captured ? .accepted : .rejected, at: now)
        return CaptureReply(Self.response(response, order))
    }

    // MARK: Sub-transactions

    /// Sub-transaction 1, then `then` in the same write with the order's
    /// reservation id ("" without one). Throws ``AcceptanceRefusal`` when
    /// stock or a coupon went between the acceptance check and the write
    /// (nothing is written).
    nonisolated func writePending(
        _ order: Parley_V1_Order,
        row encodedRow: EncodedOrderRow,
        lines: [PricedLine],
        holds: [ReservationLineRequest],
        quote: QuoteToken?,
        then: CommitHook<String>? = nil
    ) async throws -> Parley_V1_Order {
        var order = order
        let pending = order
        let row = encodedRow.row
        let encodedOrder = try EncodedOrder(pending)
        let coupons = Array(order.order.couponsApplied.enumerated())
        let insert: @Sendable (Database, String) throws -> Void = { db, reservationID in
            try OrdersStore.insert(db, encodedRow, detail: encodedOrder, reservationID: reservationID)
            for (index, serial) in coupons {
                let changed = try db.executeDirect(
                    sql: """
                        INSERT INTO orders_coupon_redemption (merchant, serial, agent, order_id, redeemed_at_ms)
                        VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                        """
                ) { binder in
                    binder.bind(row.merchant)
                    binder.bind(serial)
                    binder.bind(row.key.agent)
                    binder.bind(row.key.orderID)
                    binder.bind(pending.createdAtMs)
                }
                guard changed == 1 else {
                    throw AcceptanceRefusal(amendments: [
                        Amendment(
                            path: "coupons[\(index)]",
                            code: .couponRedeemed,
                            message: "coupon \(serial) has already been redeemed",
                            alternatives: [
                                Amendment.Alternative(
                                    description: "remove the coupon",
                                    replacements: [Amendment.Replacement(path: "coupons[\(index)]", value: .remove)],
                                    priceDifference: Money(minorUnits: -pending.order.discount.minorUnits, currency: row.total.currency)
                                )
                            ]
                        )
                    ])
                }
            }
            try then?(db, reservationID)
        }
        guard let warehouse, !holds.isEmpty else {
            try await database.batchedWriter.write { db in try insert(db, "") }
            return order
        }
        let holdSeconds = min(Self.captureHoldSeconds, warehouse.configuration.maxHoldSeconds)
        if let quote, !quote.reservationID.isEmpty {
            do {
                let record = try await warehouse.extend(id: quote.reservationID, holdSeconds: holdSeconds, caller: Self.system) { db, record in
                    try insert(db, record.id)
                }
                order.reservationID = record.id
                return order
            } catch let error as WarehouseError {
                // The quote's hold lapsed or was settled: hold anew below.
                logger.debug("quote reservation not usable", metadata: ["reservation": "\(quote.reservationID)", "reason": "\(error)"])
            }
        }
        let outcome = try await warehouse.reserve(
            owner: row.key.agent, lines: holds, holdSeconds: holdSeconds, reference: "order:\(row.key.orderID)",
            onCommit: { db, record in try insert(db, record.id) }
        )
        switch outcome {
        case .reserved(let record):
            order.reservationID = record.id
            return order
        case .shortage(let shortages):
            throw AcceptanceRefusal(amendments: InventoryPlugin.shortages(
                after: shortages, lines: lines, lineCount: row.request.lines.count, currency: row.total.currency
            ))
        }
    }

    /// Sub-transaction 2: authorize (three attempts in all, counting
    /// `attemptsMade` already made), then take the outcome: AUTHORIZED, or
    /// FAILED with the decline.
    nonisolated func authorize(_ order: Parley_V1_Order, _ request: AuthorizationRequest, attemptsMade: Int) async throws -> Parley_V1_Order {
        var lastError: any Error = PaymentProcessorError(message: "no attempt")
        for attempt in attemptsMade..<3 {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(attempt * 50)) }
            do {
                let record = try await processor.authorize(request)
                return try await recordAuthorization(order, record)
            } catch let error as PaymentProcessorError {
                lastError = error
            }
        }
        return try await fail(order, code: "PROCESSOR_UNAVAILABLE", message: "payment could not be authorized: \(lastError)", void: true)
    }

    nonisolated func recordAuthorization(_ order: Parley_V1_Order, _ record: AuthorizationRecord) async throws -> Parley_V1_Order {
        switch record.state {
        case .declined:
            return try await fail(order, code: record.declineCode, message: "the payment processor declined the payment (\(record.declineCode))", void: false)
        case .voided:
            return try await fail(order, code: "AUTHORIZATION_VOIDED", message: "the authorization was voided", void: false)
        case .authorized, .captured:
            // Not written: the processor's ledger is sub-transaction 2's
            // durable record, and the order row goes from PENDING straight to
            // CAPTURED (or FAILED) in sub-transaction 3. A crash in between
            // leaves it PENDING, and recovery asks the processor by the
            // order's key (``resume(_:)``). One durable write less per capture.
            var order = order
            order.state = .authorized
            order.authorizationID = record.id
            order.updatedAtMs = clock.nowMilliseconds
            return order
        }
    }

    /// Sub-transaction 2 inside sub-transaction 1's write, and 3 too when
    /// `captureToo`: one group commit for the capture instead of three. Each
    /// runs in a savepoint of its own, so that what one cannot finish it
    /// leaves to the steps that follow the write, as if it had been written
    /// alone: a processor error (retried), a decline (the order fails), a
    /// hold that cannot be confirmed (the order fails). An authorization is
    /// never durable without its order: they commit together.
    nonisolated func authorizeInWrite(
        _ db: Database,
        processor: any InTransactionPaymentProcessor,
        _ request: AuthorizationRequest,
        random: [UInt8],
        pending: Parley_V1_Order,
        captureToo: Bool
    ) throws -> WrittenAuthorization {
        let record: AuthorizationRecord
        do {
            record = try db.inDirectSavepoint { try processor.authorize(in: db, request, random: random) }
        } catch let error as PaymentProcessorError {
            return .processorError(error)
        }
        guard captureToo, record.state == .authorized else { return .authorization(record) }
        var captured = pending
        captured.state = .captured
        captured.authorizationID = record.id
        captured.updatedAtMs = clock.nowMilliseconds
        let encoded = try EncodedOrder(captured)
        do {
            try db.inDirectSavepoint {
                if let warehouse, !captured.reservationID.isEmpty {
                    _ = try warehouse.confirm(in: db, id: captured.reservationID, caller: Self.system)
                }
                try Self.writeCaptured(db, encoded)
            }
        } catch is WarehouseError {
            return .authorization(record)
        }
        return .captured(encoded)
    }

    /// Sub-transaction 3's capture: the hold confirmed, the order CAPTURED,
    /// the outbox entry written, together. A hold that lapsed meanwhile fails the order.
    nonisolated func finishCapture(_ order: Parley_V1_Order) async throws -> Parley_V1_Order {
        var order = order
        order.state = .captured
        order.updatedAtMs = clock.nowMilliseconds
        let captured = try EncodedOrder(order)
        let write: @Sendable (Database) throws -> Void = { db in try Self.writeCaptured(db, captured) }
        if let warehouse, !order.reservationID.isEmpty {
            do {
                _ = try await warehouse.confirm(id: order.reservationID, caller: Self.system) { db, _ in try write(db) }
            } catch let error as WarehouseError {
                var pending = order
                pending.state = .authorized
                return try await fail(pending, code: "INVENTORY_LAPSED", message: "the inventory hold could not be confirmed: \(error)", void: true)
            }
        } else {
            try await database.batchedWriter.write { db in try write(db) }
        }
        outboxSignal.yield()
        return order
    }

    /// Sub-transaction 3's own rows: the order CAPTURED and its outbox entry.
    static func writeCaptured(_ db: Database, _ captured: EncodedOrder) throws {
        try OrdersStore.update(db, captured)
        try OrdersStore.enqueue(db, kind: "captured", captured.order)
    }

    /// The order FAILED with `code`: its hold released and its coupon
    /// redemptions dropped in the same transaction, its authorization voided
    /// (after the commit) when `void`.
    nonisolated func fail(_ order: Parley_V1_Order, code: String, message: String, void: Bool) async throws -> Parley_V1_Order {
        var order = order
        order.state = .failed
        order.failureCode = code
        order.failureMessage = message
        order.updatedAtMs = clock.nowMilliseconds
        let encoded = try EncodedOrder(order)
        let write: @Sendable (Database) throws -> Void = { db in
            try OrdersStore.update(db, encoded)
            let failed = encoded.order
            try db.executeDirect(sql: "DELETE FROM orders_coupon_redemption WHERE agent = ? AND order_id = ?") { binder in
                binder.bind(failed.agent)
                binder.bind(failed.orderID)
            }
            try OrdersStore.enqueue(db, kind: "failed", failed)
        }
        var written = false
        if let warehouse, !order.reservationID.isEmpty {
            do {
                _ = try await warehouse.release(id: order.reservationID, caller: Self.system) { db, _ in try write(db) }
                written = true
            } catch is WarehouseError {
                // Already expired or settled: nothing left to release.
            }
        }
        if !written { try await database.batchedWriter.write { db in try write(db) } }
        if void {
            let key = OrderKey(agent: order.agent, orderID: order.orderID).processorKey
            do { try await processor.void(key: key) } catch { logger.warning("void failed; reconciliation will retry", metadata: ["order": "\(key)"]) }
        }
        outboxSignal.yield()
        return order
    }

    /// Finishes an order left PENDING or AUTHORIZED (start-up recovery, or a
    /// retry that finds one): an authorization the processor made is
    /// captured; a PENDING order without one fails (the card number is not
    /// kept, so payment cannot be asked for again — nothing was charged).
    nonisolated func resume(_ stored: StoredOrder) async throws -> Parley_V1_Order {
        var order = stored.order
        if order.state == .pending {
            guard let record = try await processor.authorization(key: stored.key.processorKey) else {
                return try await fail(order, code: "INTERRUPTED", message: "the order was interrupted before payment was authorized; nothing was charged", void: false)
            }
            order = try await recordAuthorization(order, record)
        }
        guard order.state == .authorized else { return order }
        // An order found between sub-transactions 2 and 3 (at start-up, or
        // by a retry after its capture broke off) may not have had its final
        // checks, and their context is not stored (the request is kept
        // without card numbers), so they cannot run again. Capturing without
        // them would charge an order they might have refused: when the
        // merchant has a fail-closed final check (or its set-up cannot be
        // read), the order fails and the authorization is voided instead. A
        // fail-open final check is passed over, as when it times out.
        if plugins.hasFailClosed(.finalCheck, for: setup(for: order.merchant)) {
            return try await fail(
                order,
                code: "INTERRUPTED",
                message: "the capture was interrupted after payment was authorized and before the merchant's final checks; the authorization is voided and nothing is charged",
                void: true
            )
        }
        return try await finishCapture(order)
    }

    // MARK: Helpers

    /// How long a capture's inventory hold lasts at most (it is confirmed or
    /// released within the capture; the window only matters across a crash).
    static let captureHoldSeconds: UInt32 = 3600

    static func differentRequest(_ key: OrderKey) -> OrdersError {
        OrdersError(
            code: .failedPrecondition,
            message: "order '\(key.orderID)' was already captured with a different request; use a new order id",
            field: "order_id"
        )
    }

    /// HMAC of the request as captured (approval fixed), under the quote key.
    nonisolated func requestMAC(_ request: Parley_V1_OrderAcceptanceRequest) -> Data {
        var request = request
        request.approval = .captureIfAcceptable
        let bytes: [UInt8] = (try? request.serializedBytes()) ?? []
        return Data(HMAC<SHA256>.authenticationCode(for: bytes, using: quoteKey))
    }

    /// The stored order, if any: read on the calling thread (a point lookup
    /// on every capture, one statement; see ``ParleyDatabase/queryNow(sql:_:row:)``).
    nonisolated func storedOrder(_ key: OrderKey) throws -> StoredOrder? {
        try database.queryNow(
            sql: "SELECT \(OrdersStore.orderColumns) FROM orders_order WHERE agent = ? AND order_id = ?",
            { binder in
                binder.bind(key.agent)
                binder.bind(key.orderID)
            },
            row: { row in
                try OrdersStore.stored(
                    key: OrderKey(agent: row.string(0), orderID: row.string(1)),
                    mac: row.data(2),
                    request: row.data(3),
                    acceptance: row.data(4),
                    detail: row.data(5)
                )
            }
        ).first
    }

    /// Records the request in the merchant's fraud statistics (when its fraud
    /// avoidance plug-in is on): a quote, a refusal or a capture.
    nonisolated func recordFraud(_ acceptance: OrderAcceptanceController.Acceptance, outcome: FraudOutcome, at: Int64) {
        guard let subject = acceptance.fraudSubject, acceptance.plugins.setup.isEnabled("fraud_avoidance") else { return }
        let setup = acceptance.plugins.setup
        fraud.record(subject, merchant: setup.merchant, outcome: outcome, at: at, snapshotKinds: setup.fraudSnapshotKinds)
    }

    /// The request as stored: card numbers removed (only the order's masked reference is kept).
    static func withoutCardNumbers(_ request: Parley_V1_OrderAcceptanceRequest) -> Parley_V1_OrderAcceptanceRequest {
        var request = request
        for index in request.payments.indices { request.payments[index].cardNumber = "" }
        return request
    }

    /// `response` with more amendments, its status recomputed.
    static func amended(_ response: Parley_V1_OrderAcceptanceResponse, with amendments: [Amendment]) -> Parley_V1_OrderAcceptanceResponse {
        var response = response
        response.amendments += amendments.map(OrderAcceptanceController.wire)
        response.status = OrderAcceptanceController.status(response.amendments)
        return response
    }

    static func response(_ acceptance: Parley_V1_OrderAcceptanceResponse, _ order: Parley_V1_Order?) -> Parley_V1_CaptureResponse {
        var response = Parley_V1_CaptureResponse()
        response.acceptance = acceptance
        if let order { response.order = order }
        return response
    }
}

/// An order's identity: order ids are chosen by agents, unique per agent.
struct OrderKey: Hashable, Sendable {
    var agent: String
    var orderID: String
    /// The processor's idempotency key for the order's authorization.
    var processorKey: String { "\(agent)/\(orderID)" }
}

/// What ``Orders/authorizeInWrite(_:processor:_:random:pending:captureToo:)``
/// did in a capture's first write.
enum WrittenAuthorization: Sendable {
    /// The processor answered with an error; nothing of sub-transaction 2 was written.
    case processorError(PaymentProcessorError)
    /// Authorized or declined; sub-transaction 3 is still to run.
    case authorization(AuthorizationRecord)
    /// Sub-transaction 3 ran too: the order as captured, as it was written.
    case captured(EncodedOrder)
}

/// Carries a ``WrittenAuthorization`` out of the write's closure.
final class WrittenAuthorizationSlot: Sendable {
    private let slot = Mutex<WrittenAuthorization?>(nil)

    var value: WrittenAuthorization? { slot.withLock { $0 } }

    func set(_ value: WrittenAuthorization) { slot.withLock { $0 = value } }
}

/// Stock or a coupon went between the acceptance check and the write.
struct AcceptanceRefusal: Error {
    var amendments: [Amendment]
}


/// What a capture answers: the response and, when the capture could put it
/// together from parts it had encoded for its write, the response's binary
/// encoding. Encoding the whole response again (its amended order twice,
/// in the acceptance and in the order) was a third of the connections'
/// event loops' time under Capture (docs/benchmarks.md, session 14).
public struct CaptureReply: Sendable {
    public var response: Parley_V1_CaptureResponse
    /// The encoding of `response`, fields in another order than
    /// SwiftProtobuf writes them (protobuf parsers take any order).
    let encoded: Data?

    init(_ response: Parley_V1_CaptureResponse) {
        self.response = response
        self.encoded = nil
    }

    /// The reply of an order captured in its first write: the acceptance and
    /// request as `row` encoded them, and the order's stored detail with the
    /// three fields it leaves out (``EncodedOrder``) taken from those.
    init(_ response: Parley_V1_CaptureResponse, row: EncodedOrderRow, detail: EncodedOrder) {
        self.response = response
        // Order: its amended order is the acceptance's, its buyer and
        // shipping address the request's (``OrdersStore/completed(_:request:acceptance:)``).
        // A field absent there is present and empty in the order, as when
        // the message is built (`order.buyer = request.buyer`).
        var order = detail.detail
        ProtobufFields.appendLengthDelimited(5, ProtobufFields.lengthDelimited(3, in: row.acceptance) ?? Data(), to: &order)
        ProtobufFields.appendLengthDelimited(6, ProtobufFields.lengthDelimited(3, in: row.request) ?? Data(), to: &order)
        ProtobufFields.appendLengthDelimited(7, ProtobufFields.lengthDelimited(6, in: row.request) ?? Data(), to: &order)
        var bytes = Data()
        bytes.reserveCapacity(row.acceptance.count + order.count + 16)
        ProtobufFields.appendLengthDelimited(1, row.acceptance, to: &bytes)
        ProtobufFields.appendLengthDelimited(2, order, to: &bytes)
        self.encoded = bytes
    }

    /// The response's binary encoding.
    public func serializedBytes() throws -> Data { try encoded ?? response.serializedBytes() }
}
