import Foundation
import GRDB
import Logging
import NIOCore
import NIOPosix
import ParleyProtos
import ParleyStore
import ParleyWarehouse
import SwiftProtobuf
import Synchronization
import Testing

@testable import ParleyOrders

/// The capture pipeline in process, with a manual clock: plug-in call-outs
/// (interests, timeouts, fail-open and fail-closed, the final check),
/// single-use coupons, and start-up recovery of orders interrupted between
/// sub-transactions with the processor's authorizations reconciled.
@Suite("Capture pipeline")
struct CapturePipelineTests {
    typealias Live = NegotiateLiveTests

    /// A test plug-in: counts its runs, sleeps, then answers or throws.
    struct ProbePlugin: OrderPlugin {
        var name: String
        var point: CallOutPoint
        var interests: Set<PluginInterest>
        var defaultTimeoutMilliseconds: UInt32 = 50
        var defaultFailOpen: Bool
        var delay: Duration = .zero
        var blocking: Bool = false

        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let counter = Counter()

        func run(_ context: PluginContext) async throws -> PluginResult {
            counter.value.add(1, ordering: .relaxed)
            if delay > .zero { try await Task.sleep(for: delay) }
            guard blocking else { return PluginResult() }
            return PluginResult(amendments: [Amendment(path: "", code: Amendment.Code(rawValue: "PROBE_REFUSED"), message: "\(name) refuses")])
        }
    }

    struct Shop {
        let database: ParleyDatabase
        let clock: ManualWallClock
        let orders: Orders
        let coupons: CouponMinter
    }

    static let issuer = CouponMinter(issuer: "promo")

    static func shop(
        plugins: [any OrderPlugin] = [],
        settings: [Parley_V1_PluginSetting] = [],
        fraudRules: [Parley_V1_FraudRuleDefinition] = [],
        database: ParleyDatabase? = nil,
        processor: (any PaymentProcessor)? = nil,
        withWarehouse: Bool = false,
        clock: ManualWallClock = ManualWallClock(),
        captureExecutor: (any TaskExecutor)? = nil
    ) async throws -> Shop {
        let database = try database ?? ParleyDatabase.inMemory(migrations: OrdersSchema.migrations + WarehouseSchema.migrations)
        let warehouse = withWarehouse ? Warehouse(database: database, clock: clock, logger: Logger(label: "test")) : nil
        let orders = try Orders(
            database: database, warehouse: warehouse, clock: clock, logger: Logger(label: "test"), processor: processor, plugins: plugins,
            captureExecutor: captureExecutor
        )
        var configuration = Live.configuration
        configuration.merchant = "lamps"
        configuration.plugins = settings
        configuration.fraudRules = fraudRules
        var registration = Parley_V1_CouponIssuerDefinition()
        registration.issuer = "promo"
        registration.publicKey = Self.issuer.issuerKey.publicKeyText
        configuration.couponIssuers = [registration]
        _ = try await orders.applyConfiguration(configuration)
        _ = try await orders.importCatalog(merchant: "lamps", items: [Live.item("lamp", cents: 1_999, grams: 1_200), Live.item("solvent", cents: 850, grams: 900, hazmat: "3")])
        return Shop(database: database, clock: clock, orders: orders, coupons: Self.issuer)
    }

    static func buy(_ id: String, lines: [(String, Int64)] = [("lamp", 1)]) -> Parley_V1_OrderAcceptanceRequest {
        CaptureLiveTests.buy(lines, id: id)
    }

    /// The shop's warehouse with 10 lamps allocated, and the merchant as its caller.
    static func tenLamps(_ shop: Shop) async throws -> (Warehouse, WarehouseCaller) {
        let warehouse = try #require(shop.orders.warehouse)
        let lamps = WarehouseCaller(principal: "lamps", kinds: [.merchant])
        _ = try await warehouse.allocate(merchant: "lamps", adjustments: [.init(sku: "lamp", delta: 10, reason: "")], caller: lamps)
        return (warehouse, lamps)
    }

    static func setting(_ name: String, failOpen: Bool, timeout: UInt32 = 30) -> Parley_V1_PluginSetting {
        var setting = Parley_V1_PluginSetting()
        setting.name = name
        setting.enabled = true
        setting.failOpen = failOpen
        setting.timeoutMs = timeout
        return setting
    }

    @Test("a plug-in runs at its call-out point only when its interest is present")
    func interests() async throws {
        let hazmat = ProbePlugin(name: "probe-hazmat", point: .afterItemCheck, interests: [.hazmat], defaultFailOpen: true)
        let cards = ProbePlugin(name: "probe-cards", point: .afterPaymentCheck, interests: [.cardPayment], defaultFailOpen: true)
        let shop = try await Self.shop(plugins: [hazmat, cards])
        _ = try await shop.orders.negotiate(Self.buy("q-1"), agent: "agency")
        #expect(hazmat.counter.value.load(ordering: .relaxed) == 0)
        #expect(cards.counter.value.load(ordering: .relaxed) == 1)
        _ = try await shop.orders.negotiate(Self.buy("q-2", lines: [("solvent", 1)]), agent: "agency")
        #expect(hazmat.counter.value.load(ordering: .relaxed) == 1)
    }

    @Test("a plug-in past its timeout: fail-open lets the order through with a notice, fail-closed rejects it")
    func timeouts() async throws {
        let slow = ProbePlugin(name: "probe-slow", point: .afterPaymentCheck, interests: [.always], defaultFailOpen: true, delay: .seconds(5))
        let open = try await Self.shop(plugins: [slow])
        let started = ContinuousClock.now
        let lenient = try await open.orders.negotiate(Self.buy("q-1"), agent: "agency")
        #expect(ContinuousClock.now - started < .seconds(4))
        #expect(lenient.status == .acceptable)
        #expect(lenient.amendments.contains { $0.code == "PLUGIN_FAILED" && !$0.blocking })

        var closedSlow = slow
        closedSlow.defaultFailOpen = false
        let closed = try await Self.shop(plugins: [closedSlow])
        let strict = try await closed.orders.negotiate(Self.buy("q-1"), agent: "agency")
        #expect(strict.status == .rejected)
        #expect(strict.amendments.contains { $0.code == "PLUGIN_FAILED" && $0.blocking })
        let capture = try await closed.orders.capture(Self.buy("c-1"), agent: "agency")
        #expect(!capture.hasOrder && capture.acceptance.status == .rejected)
    }

    /// A plug-in that answers at once, has no answer at once, or throws;
    /// its `run` outlasts its timeout.
    struct SometimesProbe: SometimesInlineOrderPlugin {
        enum Mode: Sendable { case answers, waits, throwsError }
        struct Thrown: Error {}
        var mode: Mode
        var name: String { "probe-sometimes" }
        var point: CallOutPoint { .afterPaymentCheck }
        var interests: Set<PluginInterest> { [.always] }
        var defaultTimeoutMilliseconds: UInt32 { 50 }
        var defaultFailOpen: Bool { true }

        func runIfImmediate(_ context: PluginContext) throws -> PluginResult? {
            switch mode {
            case .answers: PluginResult(amendments: [Amendment(path: "", code: Amendment.Code(rawValue: "IMMEDIATE"), message: "at once", isBlocking: false)])
            case .waits: nil
            case .throwsError: throw Thrown()
            }
        }

        func run(_ context: PluginContext) async throws -> PluginResult {
            try await Task.sleep(for: .seconds(5))
            return PluginResult()
        }
    }

    @Test("a plug-in's answer at once stands without a race; without one its run is raced against the timeout; a throw is a failure")
    func sometimesInline() async throws {
        func codes(_ mode: SometimesProbe.Mode) async throws -> [String] {
            let shop = try await Self.shop(plugins: [SometimesProbe(mode: mode)])
            let started = ContinuousClock.now
            let response = try await shop.orders.negotiate(Self.buy("q-1"), agent: "agency")
            #expect(ContinuousClock.now - started < .seconds(4))
            return response.amendments.filter { $0.code == "IMMEDIATE" || $0.code == "PLUGIN_FAILED" }.map { "\($0.code) \($0.message.contains("within") ? "timeout" : "")" }
        }
        #expect(try await codes(.answers) == ["IMMEDIATE "])
        #expect(try await codes(.waits) == ["PLUGIN_FAILED timeout"])
        #expect(try await codes(.throwsError) == ["PLUGIN_FAILED "])
    }

    @Test("a plug-in's timeout on an event loop's timer: a slow body times out, a quick one wins and the timer stays quiet")
    func raceOnEventLoopTimer() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let loop = group.next()
        let started = ContinuousClock.now
        let slow = await PluginRunner.race(timeoutMilliseconds: 50, timerLoop: loop) {
            try await Task.sleep(for: .seconds(5))
            return PluginResult()
        }
        #expect(ContinuousClock.now - started < .seconds(4))
        guard case .failure(.timedOut(50)) = slow else {
            Issue.record("expected a timeout, got \(slow)")
            return
        }
        // Generous: on a loaded machine the body may wait a while for a thread.
        let quick = await PluginRunner.race(timeoutMilliseconds: 1_000, timerLoop: loop) {
            PluginResult(amendments: [Amendment(path: "", code: Amendment.Code(rawValue: "QUICK"), message: "quick")])
        }
        guard case .success(let result) = quick else {
            Issue.record("expected the body's result, got \(quick)")
            return
        }
        #expect(result.amendments.map(\.code.rawValue) == ["QUICK"])
        // Had the timer not been cancelled, it fires meanwhile and must find the race decided.
        try await Task.sleep(for: .milliseconds(1_100))
    }

    @Test("a merchant turns a built-in plug-in off by name: its rules stop applying")
    func pluginOff() async throws {
        let rule = CaptureLiveTests.cardVelocity("no-cards", limit: 0, windowMs: 3_600_000)
        let strict = try await Self.shop(fraudRules: [rule])
        let refused = try await strict.orders.negotiate(Self.buy("q-1"), agent: "agency")
        #expect(refused.status == .rejected && refused.amendments.contains { $0.code == "FRAUD_REJECTED" })
        var off = Self.setting("fraud_avoidance", failOpen: false)
        off.enabled = false
        let lenient = try await Self.shop(settings: [off], fraudRules: [rule])
        #expect(try await lenient.orders.negotiate(Self.buy("q-1"), agent: "agency").status == .acceptable)
    }

    @Test("a blocking pre-authorization check stops Capture before anything is written or charged")
    func preAuthorization() async throws {
        let veto = ProbePlugin(name: "probe-pre", point: .preAuthorization, interests: [.always], defaultFailOpen: false, blocking: true)
        let shop = try await Self.shop(plugins: [veto])
        #expect(try await shop.orders.negotiate(Self.buy("q-1"), agent: "agency").status == .acceptable)
        #expect(veto.counter.value.load(ordering: .relaxed) == 0)
        let response = try await shop.orders.capture(Self.buy("c-1"), agent: "agency")
        #expect(!response.hasOrder && response.acceptance.status == .rejected)
        #expect(response.acceptance.amendments.contains { $0.code == "PROBE_REFUSED" })
        #expect(try await shop.orders.processor.authorization(key: "agency/c-1") == nil)
        #expect(try await shop.database.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM orders_order") } == 0)
    }

    @Test("a blocking final check fails the authorized order and voids its authorization")
    func finalCheck() async throws {
        let veto = ProbePlugin(name: "probe-veto", point: .finalCheck, interests: [.always], defaultFailOpen: false, blocking: true)
        let shop = try await Self.shop(plugins: [veto])
        let response = try await shop.orders.capture(Self.buy("c-1"), agent: "agency")
        #expect(response.order.state == .failed && response.order.failureCode == "FINAL_CHECK_REFUSED")
        let record = try await shop.orders.processor.authorization(key: "agency/c-1")
        #expect(record?.state == .voided)
    }

    @Test("a coupon is redeemed once: a second order with it is amended (remove the coupon); a failed order frees it")
    func singleUseCoupon() async throws {
        let shop = try await Self.shop()
        let coupon = try Self.issuer.mint(
            Coupon(issuer: "promo", serial: "SAVE-1", merchant: "lamps", discount: .percent(basisPoints: 1_000), expiresAtMilliseconds: shop.clock.nowMilliseconds + 86_400_000)
        )
        var declined = Self.buy("c-0")
        declined.coupons = [coupon]
        declined.payments[0].cardNumber = SimulatedPaymentProcessor.declinedCard
        #expect(try await shop.orders.capture(declined, agent: "agency").order.state == .failed)

        var first = Self.buy("c-1")
        first.coupons = [coupon]
        let captured = try await shop.orders.capture(first, agent: "agency")
        #expect(captured.order.state == .captured)
        #expect(captured.order.order.couponsApplied == ["SAVE-1"] && captured.order.order.discount.minorUnits < 0)

        var second = Self.buy("c-2")
        second.coupons = [coupon]
        let refused = try await shop.orders.capture(second, agent: "another-agency")
        #expect(!refused.hasOrder && refused.acceptance.status == .amendments)
        let amendment = try #require(refused.acceptance.amendments.first { $0.code == "COUPON_REDEEMED" })
        #expect(amendment.path == "coupons[0]" && amendment.alternatives.first?.replacements.first?.remove == true)
    }

    @Test("a stored order reads back whole: its detail leaves out the amended order, buyer and address, which come from the row's request and acceptance")
    func storedOrderReadsWhole() async throws {
        let shop = try await Self.shop()
        let captured = try await shop.orders.capture(Self.buy("w-1"), agent: "agency")
        #expect(captured.order.state == .captured && captured.order.hasOrder && captured.order.buyer.email == "pat@example.com" && !captured.order.shippingAddress.postalCode.isEmpty)
        let caller = OrdersCaller(principal: "agency", isAgent: true, isMerchant: false, isAdmin: false)
        #expect(try await shop.orders.order(id: "w-1", agent: "", caller: caller) == captured.order)
        #expect(try await shop.orders.orders(caller: caller, state: .unspecified, limit: 10) == [captured.order])
        let detail = try await shop.database.writer.read { db in try Data.fetchOne(db, sql: "SELECT detail FROM orders_order WHERE order_id = 'w-1'") }
        let slim = try Parley_V1_Order(serializedBytes: try #require(detail))
        #expect(!slim.hasOrder && !slim.hasBuyer && !slim.hasShippingAddress && slim.state == .captured)
        // A detail written whole, as earlier versions did, reads as it is.
        var whole = captured.order
        whole.order.total.minorUnits += 1
        whole.buyer.email = "earlier@example.com"
        let bytes: Data = try whole.serializedBytes()
        try await shop.database.writer.write { db in
            try db.execute(sql: "UPDATE orders_order SET detail = ? WHERE order_id = 'w-1'", arguments: [bytes])
        }
        #expect(try await shop.orders.order(id: "w-1", agent: "", caller: caller) == whole)
    }

    @Test("start-up recovery finishes interrupted orders and reconciles authorizations: no charge without an order")
    func recovery() async throws {
        let shop = try await Self.shop()
        let orders = shop.orders
        // Left PENDING with the processor's authorization made (crash before sub-transaction 2 committed).
        let authorized = try await pending(orders, id: "p-authorized")
        _ = try await orders.processor.authorize(authorization(authorized))
        // The same, for an order id with a slash (the processor's key is
        // `<agent>/<order id>`: recovery finds the order by splitting it).
        let slashed = try await pending(orders, id: "p/slash")
        _ = try await orders.processor.authorize(authorization(slashed))
        // And one starting with a combining mark, which joins the slash before
        // it into one character (the split is by Unicode scalar).
        let combining = try await pending(orders, id: "\u{301}accent")
        _ = try await orders.processor.authorize(authorization(combining))
        // Left PENDING without any authorization (crash before the processor was asked).
        _ = try await pending(orders, id: "p-none")
        // Left AUTHORIZED (written by versions that stored that state between
        // sub-transactions 2 and 3; now the row stays PENDING until 3).
        let halfway = try await pending(orders, id: "a-1")
        let record = try await orders.processor.authorize(authorization(halfway))
        let authorizedOrder = try EncodedOrder(try await orders.recordAuthorization(halfway, record))
        #expect(authorizedOrder.order.state == .authorized)
        try await orders.database.batchedWriter.write { db in try OrdersStore.update(db, authorizedOrder) }
        let admin = OrdersCaller(principal: "ops", isAgent: false, isMerchant: false, isAdmin: true)
        #expect(try await orders.order(id: "a-1", agent: "agency", caller: admin).state == .authorized)
        // An authorization without any order.
        var stray = authorization(halfway)
        stray.key = "agency/never-written"
        _ = try await orders.processor.authorize(stray)

        // A restart over the same database.
        let restarted = try await Self.shop(database: shop.database)
        let report = try await restarted.orders.recover()
        #expect(report.captured == 4 && report.failed == 1 && report.voided == 1)
        let caller = OrdersCaller(principal: "agency", isAgent: true, isMerchant: false, isAdmin: false)
        #expect(try await restarted.orders.order(id: "p-authorized", agent: "", caller: caller).state == .captured)
        #expect(try await restarted.orders.order(id: "a-1", agent: "", caller: caller).state == .captured)
        let interrupted = try await restarted.orders.order(id: "p-none", agent: "", caller: caller)
        #expect(interrupted.state == .failed && interrupted.failureCode == "INTERRUPTED")
        _ = try await restarted.orders.processOutbox(limit: 100)
        let states = try await shop.database.writer.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT key, state FROM payments_authorization").map { ($0[0] as String, $0[1] as String) })
        }
        #expect(states == [
            "agency/p-authorized": "CAPTURED", "agency/p/slash": "CAPTURED", "agency/\u{301}accent": "CAPTURED", "agency/a-1": "CAPTURED",
            "agency/never-written": "VOIDED",
        ])
        // A retry of an order finished by recovery answers its outcome.
        let retried = try await restarted.orders.capture(Self.buy("a-1"), agent: "agency")
        #expect(retried.order.state == .captured && retried.order.authorizationID == record.id)
    }

    /// Notes the event loop each run is on.
    struct Whereabouts: InlineOrderPlugin {
        var name = "whereabouts"
        var point = CallOutPoint.preAuthorization
        var interests: Set<PluginInterest> = [.always]
        var defaultTimeoutMilliseconds: UInt32 = 50
        var defaultFailOpen = true

        final class Log: Sendable {
            let loops = Mutex<[ObjectIdentifier?]>([])
            func note() -> PluginResult {
                let loop = MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
                loops.withLock { $0.append(loop) }
                return PluginResult()
            }
        }
        let log = Log()

        func runInline(_ context: PluginContext) throws -> PluginResult { log.note() }
    }

    /// The same, run as plug-ins that are not inline are: in a task of its own, with a timeout.
    struct TaskWhereabouts: OrderPlugin {
        var name = "task-whereabouts"
        var point = CallOutPoint.preAuthorization
        var interests: Set<PluginInterest> = [.always]
        var defaultTimeoutMilliseconds: UInt32 = 5_000
        var defaultFailOpen = true
        let log = Whereabouts.Log()

        func run(_ context: PluginContext) async throws -> PluginResult { log.note() }
    }

    @Test("a capture runs on the executor Orders is given (the daemon's work loops), whatever task calls it, its plug-ins' tasks too")
    func captureExecutor() async throws {
        let whereabouts = Whereabouts()
        let inTask = TaskWhereabouts()
        let shop = try await Self.shop(plugins: [whereabouts, inTask], captureExecutor: WorkLoops.executor)
        for id in ["w-1", "w-2", "w-3"] {
            #expect(try await shop.orders.capture(Self.buy(id), agent: "agency").order.state == .captured)
        }
        let workLoops = Set(WorkLoops.group.makeIterator().map { ObjectIdentifier($0) })
        let seen = whereabouts.log.loops.withLock { $0 } + inTask.log.loops.withLock { $0 }
        #expect(seen.count == 6)
        #expect(seen.allSatisfy { $0.map(workLoops.contains) == true }, "ran on \(seen), not on a work loop")
    }

    @Test("recovery never captures without the merchant's final checks: an authorized order is failed and voided when they are on")
    func recoveryWithFinalChecks() async throws {
        let check = ProbePlugin(name: "probe-final", point: .finalCheck, interests: [.always], defaultFailOpen: false)
        let shop = try await Self.shop(plugins: [check])
        let halfway = try await pending(shop.orders, id: "f-1")
        _ = try await shop.orders.processor.authorize(authorization(halfway))

        let restarted = try await Self.shop(plugins: [check], database: shop.database)
        let report = try await restarted.orders.recover()
        #expect(report.captured == 0 && report.failed == 1)
        #expect(check.counter.value.load(ordering: .relaxed) == 0)
        let caller = OrdersCaller(principal: "agency", isAgent: true, isMerchant: false, isAdmin: false)
        let order = try await restarted.orders.order(id: "f-1", agent: "", caller: caller)
        #expect(order.state == .failed && order.failureCode == "INTERRUPTED")
        #expect(try await restarted.orders.processor.authorization(key: "agency/f-1")?.state == .voided)

        // With the Warehouse: the failed order's hold is released, not sold.
        let stocked = try await Self.shop(plugins: [check], withWarehouse: true)
        let warehouse = try #require(stocked.orders.warehouse)
        let lamps = WarehouseCaller(principal: "lamps", kinds: [.merchant])
        _ = try await warehouse.allocate(merchant: "lamps", adjustments: [.init(sku: "lamp", delta: 10, reason: "")], caller: lamps)
        let held = try await pending(stocked.orders, id: "f-3")
        #expect(!held.reservationID.isEmpty)
        _ = try await stocked.orders.processor.authorize(authorization(held))
        let restock = try await Self.shop(plugins: [check], database: stocked.database, withWarehouse: true)
        #expect(try await restock.orders.recover().failed == 1)
        let hold = try await warehouse.reservation(id: held.reservationID, caller: lamps)
        #expect(hold.state == .released)
        let audit = try await warehouse.audit(caller: lamps)
        #expect(audit.balances && audit.free == 10, "\(audit.discrepancies)")

        // A fail-open final check is passed over, as when it times out; without
        // any final check the same order is captured too (see recovery()).
        let lenient = ProbePlugin(name: "probe-lenient", point: .finalCheck, interests: [.always], defaultFailOpen: true)
        let open = try await Self.shop(plugins: [lenient])
        let other = try await pending(open.orders, id: "f-2")
        _ = try await open.orders.processor.authorize(authorization(other))
        let reopened = try await Self.shop(plugins: [lenient], database: open.database)
        #expect(try await reopened.orders.recover().captured == 1)
    }

    @Test("with the simulator answering at once, a capture is one write: the order, its authorization, the confirmed hold and the outbox entry commit together")
    func oneWrite() async throws {
        // How many group commits a capture waits for, and what it leaves.
        func capture(_ shop: Shop, _ id: String) async throws -> (writes: UInt64, order: Parley_V1_Order) {
            let (warehouse, lamps) = try await Self.tenLamps(shop)
            let before = shop.database.batchedWriter.batchesEnded
            let order = try await shop.orders.capture(Self.buy(id), agent: "agency").order
            let writes = shop.database.batchedWriter.batchesEnded - before
            #expect(order.state == .captured && !order.reservationID.isEmpty && !order.authorizationID.isEmpty)
            #expect(try await warehouse.reservation(id: order.reservationID, caller: lamps).state == .confirmed)
            #expect(try await shop.orders.processor.authorization(key: "agency/\(id)")?.id == order.authorizationID)
            let audit = try await warehouse.audit(caller: lamps)
            #expect(audit.balances && audit.sold == 1 && audit.held == 0, "\(audit.discrepancies)")
            let outbox = try await shop.database.writer.read { db in try String.fetchAll(db, sql: "SELECT kind FROM orders_outbox") }
            #expect(outbox == ["captured"])
            let caller = OrdersCaller(principal: "agency", isAgent: true, isMerchant: false, isAdmin: false)
            #expect(try await shop.orders.order(id: id, agent: "", caller: caller) == order)
            return (writes, order)
        }
        #expect(try await capture(Self.shop(withWarehouse: true), "w-1").writes == 1)
        // A final check to run after authorization: sub-transaction 3 is a write of its own.
        let lenient = ProbePlugin(name: "probe-final", point: .finalCheck, interests: [.always], defaultFailOpen: true)
        #expect(try await capture(Self.shop(plugins: [lenient], withWarehouse: true), "w-2").writes == 2)
        #expect(lenient.counter.value.load(ordering: .relaxed) == 1)
        // A processor that has to be waited for: three writes.
        let database = try ParleyDatabase.inMemory(migrations: OrdersSchema.migrations + WarehouseSchema.migrations)
        let waited = SimulatedPaymentProcessor(database: database, clock: ManualWallClock(), latency: .milliseconds(1))
        #expect(try await capture(Self.shop(database: database, processor: waited, withWarehouse: true), "w-3").writes == 3)
    }

    @Test("a capture done in one write answers with bytes put together from its write's parts: they decode to its response, which is the order as stored")
    func oneWriteReplyBytes() async throws {
        let shop = try await Self.shop(withWarehouse: true)
        let (warehouse, lamps) = try await Self.tenLamps(shop)
        let request = Self.buy("bytes-1", lines: [("lamp", 2)])
        #expect(request.hasBuyer && request.hasShippingAddress)
        let reply = try await shop.orders.captureReply(request, agent: "agency")
        let encoded = try #require(reply.encoded)
        let decoded = try Parley_V1_CaptureResponse(serializedBytes: encoded)
        #expect(decoded == reply.response)
        #expect(decoded.order.state == .captured && decoded.order.buyer == request.buyer && decoded.order.shippingAddress == request.shippingAddress)
        #expect(decoded.order.order == decoded.acceptance.order && decoded.order.order.lines.count == 1)
        let caller = OrdersCaller(principal: "agency", isAgent: true, isMerchant: false, isAdmin: false)
        #expect(try await shop.orders.order(id: "bytes-1", agent: "", caller: caller) == decoded.order)
        #expect(try await warehouse.audit(caller: lamps).sold == 2)
        // A retry answers from the stored order, encoded whole: the same response.
        let retry = try await shop.orders.captureReply(request, agent: "agency")
        #expect(retry.encoded == nil)
        #expect(try Parley_V1_CaptureResponse(serializedBytes: retry.serializedBytes()) == reply.response)
    }

    @Test("top-level protobuf fields are found without decoding: the last occurrence, nested fields left alone; malformed bytes give nil")
    func protobufFields() throws {
        var request = Self.buy("fields-1")
        request.buyer.name = "Ada"
        var bytes = try request.serializedBytes() as Data
        #expect(try Parley_V1_Buyer(serializedBytes: #require(ProtobufFields.lengthDelimited(3, in: bytes))) == request.buyer)
        #expect(try Parley_V1_Address(serializedBytes: #require(ProtobufFields.lengthDelimited(6, in: bytes))) == request.shippingAddress)
        #expect(ProtobufFields.lengthDelimited(13, in: bytes) == nil)  // no quote id
        var later = Parley_V1_Buyer()
        later.name = "Grace"
        ProtobufFields.appendLengthDelimited(3, try later.serializedBytes(), to: &bytes)
        #expect(try Parley_V1_Buyer(serializedBytes: #require(ProtobufFields.lengthDelimited(3, in: bytes))) == later)
        // A length past the end, and a varint that never ends.
        #expect(ProtobufFields.lengthDelimited(3, in: Data([0x1a, 0x05, 0x01])) == nil)
        #expect(ProtobufFields.lengthDelimited(3, in: Data([0x08, 0xff, 0xff])) == nil)
        // Fixed-width and varint fields are stepped over.
        #expect(ProtobufFields.lengthDelimited(3, in: Data([0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1d, 1, 2, 3, 4, 0x1a, 0x01, 0x2a])) == Data([0x2a]))
    }

    @Test("in one write, a failure after the authorization undoes all of it: no charge, no order, no hold; a retry then captures once")
    func oneWriteIsAtomic() async throws {
        let shop = try await Self.shop(withWarehouse: true)
        let (warehouse, lamps) = try await Self.tenLamps(shop)
        // Sub-transaction 3's outbox entry fails (not a warehouse refusal,
        // which has a path of its own), after 2 recorded the authorization.
        try await shop.database.writer.write { db in
            try db.execute(sql: "CREATE TRIGGER outbox_broken BEFORE INSERT ON orders_outbox BEGIN SELECT RAISE(ABORT, 'outbox broken'); END")
        }
        await #expect(throws: (any Error).self) { try await shop.orders.capture(Self.buy("x-1"), agent: "agency") }
        let left = try await shop.database.writer.read { db in
            (
                orders: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM orders_order") ?? -1,
                authorizations: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM payments_authorization") ?? -1,
                reservations: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM warehouse_reservation") ?? -1
            )
        }
        #expect(left.orders == 0 && left.authorizations == 0 && left.reservations == 0)
        let audit = try await warehouse.audit(caller: lamps)
        #expect(audit.balances && audit.held == 0 && audit.sold == 0, "\(audit.discrepancies)")

        try await shop.database.writer.write { db in try db.execute(sql: "DROP TRIGGER outbox_broken") }
        let retried = try await shop.orders.capture(Self.buy("x-1"), agent: "agency")
        #expect(retried.order.state == .captured)
        let authorizations = try await shop.database.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM payments_authorization") }
        #expect(authorizations == 1)
    }

    /// The simulator, but the clock passes every hold's end while it
    /// authorizes inside the order's write.
    struct HoldOutlivingProcessor: InTransactionPaymentProcessor {
        let simulator: SimulatedPaymentProcessor
        let clock: ManualWallClock

        var authorizesInTransaction: Bool { true }
        func authorize(in db: Database, _ request: AuthorizationRequest, random: [UInt8]) throws -> AuthorizationRecord {
            let record = try simulator.authorize(in: db, request, random: random)
            clock.advance(by: .seconds(3 * 3600))
            return record
        }
        func authorize(_ request: AuthorizationRequest) async throws -> AuthorizationRecord { try await simulator.authorize(request) }
        func authorization(key: String) async throws -> AuthorizationRecord? { try await simulator.authorization(key: key) }
        func capture(keys: [String]) async throws { try await simulator.capture(keys: keys) }
        func void(key: String) async throws { try await simulator.void(key: key) }
        func openAuthorizations(limit: Int) async throws -> [AuthorizationRecord] { try await simulator.openAuthorizations(limit: limit) }
    }

    @Test("in one write, a hold that cannot be confirmed leaves the authorization to the path after the write: the order fails INVENTORY_LAPSED, voided, nothing sold")
    func oneWriteHoldLapsed() async throws {
        let database = try ParleyDatabase.inMemory(migrations: OrdersSchema.migrations + WarehouseSchema.migrations)
        let clock = ManualWallClock()
        let processor = HoldOutlivingProcessor(simulator: SimulatedPaymentProcessor(database: database, clock: clock), clock: clock)
        let shop = try await Self.shop(database: database, processor: processor, withWarehouse: true, clock: clock)
        let (warehouse, lamps) = try await Self.tenLamps(shop)

        let order = try await shop.orders.capture(Self.buy("lapsed"), agent: "agency").order
        #expect(order.state == .failed && order.failureCode == "INVENTORY_LAPSED", "\(order.failureCode): \(order.failureMessage)")
        #expect(try await processor.authorization(key: "agency/lapsed")?.state == .voided)
        #expect(try await warehouse.reservation(id: order.reservationID, caller: lamps).state == .expired)
        let audit = try await warehouse.audit(caller: lamps)
        #expect(audit.balances && audit.held == 0 && audit.sold == 0, "\(audit.discrepancies)")
        let outbox = try await database.writer.read { db in try String.fetchAll(db, sql: "SELECT kind FROM orders_outbox") }
        #expect(outbox == ["failed"])
        let caller = OrdersCaller(principal: "agency", isAgent: true, isMerchant: false, isAdmin: false)
        #expect(try await shop.orders.order(id: "lapsed", agent: "", caller: caller) == order)
    }

    /// Runs acceptance and sub-transaction 1 only, as a capture interrupted after it would.
    func pending(_ orders: Orders, id: String) async throws -> Parley_V1_Order {
        let request = Self.buy(id)
        let setup = try #require(orders.setup(for: "lamps"))
        let acceptance = try await OrderAcceptanceController(setup: setup, now: orders.clock.nowMilliseconds, cardKey: orders.cardKey)
            .evaluate(request, agent: "agency", plugins: orders.plugins, isCapture: true)
        var order = Parley_V1_Order()
        order.orderID = id
        order.agent = "agency"
        order.merchant = "lamps"
        order.state = .pending
        order.order = acceptance.response.order
        order.createdAtMs = orders.clock.nowMilliseconds
        order.updatedAtMs = order.createdAtMs
        let row = try EncodedOrderRow(OrderRow(
            key: OrderKey(agent: "agency", orderID: id), merchant: "lamps", mac: orders.requestMAC(request),
            request: Orders.withoutCardNumbers(request), acceptance: acceptance.response,
            fingerprint: acceptance.payment?.card?.fingerprint ?? "", total: acceptance.total
        ))
        return try await orders.writePending(order, row: row, lines: acceptance.plugins.lines, holds: acceptance.holds, quote: nil)
    }

    func authorization(_ order: Parley_V1_Order) -> AuthorizationRequest {
        AuthorizationRequest(
            key: "\(order.agent)/\(order.orderID)", merchant: order.merchant,
            amount: Money(minorUnits: order.order.total.minorUnits, currency: .usd),
            kind: .card, instrument: "4242424242424242", maskedReference: "visa ••••4242"
        )
    }
}
