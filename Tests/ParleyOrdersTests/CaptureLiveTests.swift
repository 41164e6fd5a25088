import Foundation
import GRDB
import ParleyClient
import ParleyDaemon
import ParleyOrders
import ParleyPKI
import ParleyProtos
import ParleyStore
import ParleyTesting
import ParleyWarehouse
import ParleyWire
import Testing

/// Capture ("buy now") end to end over mutual TLS: the three
/// sub-transactions, the payment simulator's answers, inventory, quotes,
/// idempotency on the order id, reading orders back, and fraud velocity.
@Suite("Capture over live mTLS")
struct CaptureLiveTests {
    typealias Live = NegotiateLiveTests
    static let admin = WarehouseCaller(principal: "test-admin", kinds: [.admin])

    /// "lamps" set up as in the Negotiate tests, with `lamp` stocked
    /// (`stock` units; solvent untracked), optional fraud rules and reserve-on-quote.
    func withShop(
        stock: Int64 = 10,
        fraudRules: [Parley_V1_FraudRuleDefinition] = [],
        reserveOnQuote: Bool = false,
        clock: (any WallClock)? = nil,
        options: TestDaemonOptions = TestDaemonOptions(),
        _ body: @Sendable (TestDaemon) async throws -> Void
    ) async throws {
        var options = options
        if let clock { options.clock = clock }
        try await withTestDaemon(options) { daemon in
            let merchant = try daemon.client("lamps", roles: [.merchant])
            var configuration = Parley_V1_ApplyConfigurationRequest()
            configuration.configuration = Live.configuration
            configuration.configuration.fraudRules = fraudRules
            configuration.configuration.reserveOnQuote = reserveOnQuote
            _ = try await merchant.unary(MerchantService.applyConfiguration, configuration, as: Parley_V1_MerchantConfiguration.self)
            var catalog = Parley_V1_ImportCatalogRequest()
            catalog.items = [Live.item("lamp", cents: 1_999, grams: 1_200), Live.item("solvent", cents: 850, grams: 900, hazmat: "3")]
            _ = try await merchant.unary(MerchantService.importCatalog, catalog, as: Parley_V1_ImportCatalogResponse.self)
            _ = try await daemon.daemon.warehouse.allocate(
                merchant: "lamps", adjustments: [InventoryAdjustmentRequest(sku: "lamp", delta: stock, reason: "test")], caller: Self.admin
            )
            try await body(daemon)
        }
    }

    static func buy(_ lines: [(String, Int64)], id: String = "order-1", card: String = "4242424242424242") -> Parley_V1_OrderAcceptanceRequest {
        var request = Live.order(lines)
        request.orderID = id
        request.payments[0].cardNumber = card
        request.approval = .captureIfAcceptable
        return request
    }

    func counters(_ daemon: TestDaemon) async throws -> SkuCounters {
        try #require(try await daemon.daemon.warehouse.inventory(caller: Self.admin, skus: ["lamp"]).first)
    }

    /// A fraud rule: at most `limit` orders per card fingerprint in `windowMs`.
    static func cardVelocity(_ id: String, limit: Int64, windowMs: Int64, counting: [String] = []) -> Parley_V1_FraudRuleDefinition {
        var rule = Parley_V1_FraudRuleDefinition()
        rule.id = id
        rule.kind = "velocity"
        rule.key = "card_fingerprint"
        rule.measure = "orders"
        rule.limit = limit
        rule.windowMs = windowMs
        rule.countedOutcomes = counting
        return rule
    }

    func authorizations(_ daemon: TestDaemon) throws -> [String: String] {
        try daemon.daemon.database.writer.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT key, state FROM payments_authorization").map { ($0[0], $0[1]) })
        }
    }

    @Test("an acceptable order is captured: authorized, the hold confirmed as sold, readable by its agent and merchant only")
    func captured() async throws {
        try await withShop { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            let response = try await agent.unary(OrdersService.capture, Self.buy([("lamp", 2), ("solvent", 1)]), as: Parley_V1_CaptureResponse.self)
            #expect(response.acceptance.status == .acceptable)
            let order = response.order
            #expect(order.state == .captured, "\(order.failureCode): \(order.failureMessage)")
            #expect(order.authorizationID.hasPrefix("auth_"))
            #expect(!order.reservationID.isEmpty)
            #expect(order.order.total == response.acceptance.order.total)
            let stock = try await counters(daemon)
            #expect(stock.sold == 2 && stock.held == 0 && stock.allocated == 10)

            var get = Parley_V1_GetOrderRequest()
            get.orderID = "order-1"
            #expect(try await agent.unary(OrdersService.getOrder, get, as: Parley_V1_Order.self) == order)
            let merchant = try daemon.client("lamps", roles: [.merchant])
            get.agent = "acme-travel"
            #expect(try await merchant.unary(OrdersService.getOrder, get, as: Parley_V1_Order.self).state == .captured)
            let stranger = try daemon.client("other-agency", roles: [.agent])
            await #expect {
                _ = try await stranger.unary(OrdersService.getOrder, get, as: Parley_V1_Order.self)
            } throws: { ($0 as? RPCError)?.code == .notFound }
            #expect(try await merchant.unary(OrdersService.listOrders, Parley_V1_ListOrdersRequest(), as: Parley_V1_ListOrdersResponse.self).orders.map(\.orderID) == ["order-1"])
            #expect(try await stranger.unary(OrdersService.listOrders, Parley_V1_ListOrdersRequest(), as: Parley_V1_ListOrdersResponse.self).orders.isEmpty)

            // The outbox settles the authorization with the processor after the reply.
            _ = try await daemon.daemon.orders.processOutbox(limit: 10)
            #expect(try authorizations(daemon) == ["acme-travel/order-1": "CAPTURED"])
        }
    }

    @Test("64 concurrent captures over 4 connections all complete (no reader of stock may wait on the executor)")
    func concurrentCaptures() async throws {
        try await withShop(stock: 1_000) { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent], connections: 4)
            let states = try await withThrowingTaskGroup(of: Parley_V1_OrderState.self) { group in
                for index in 0..<64 {
                    group.addTask {
                        try await agent.unary(OrdersService.capture, Self.buy([("lamp", 1)], id: "c-\(index)"), as: Parley_V1_CaptureResponse.self).order.state
                    }
                }
                return try await group.reduce(into: [Parley_V1_OrderState]()) { $0.append($1) }
            }
            #expect(states.count == 64 && states.allSatisfy { $0 == .captured })
            #expect(try await counters(daemon).sold == 64)
        }
    }

    @Test("same order id and request: the first outcome, one authorization; another request under that id: FAILED_PRECONDITION")
    func idempotent() async throws {
        try await withShop { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            let request = Self.buy([("lamp", 1)])
            let first = try await agent.unary(OrdersService.capture, request, as: Parley_V1_CaptureResponse.self)
            // Concurrent and later repeats.
            async let second = agent.unary(OrdersService.capture, request, as: Parley_V1_CaptureResponse.self)
            async let third = agent.unary(OrdersService.capture, request, as: Parley_V1_CaptureResponse.self)
            let repeats = try await [second, third]
            #expect(repeats.allSatisfy { $0.order == first.order })
            #expect(try authorizations(daemon).count == 1)
            #expect(try await counters(daemon).sold == 1)
            var changed = request
            changed.lines[0].quantity = 2
            await #expect {
                _ = try await agent.unary(OrdersService.capture, changed, as: Parley_V1_CaptureResponse.self)
            } throws: { error in
                (error as? RPCError)?.code == .failedPrecondition && (error as? RPCError)?.violations.map(\.field) == ["order_id"]
            }
            // The same order id is another agent's own.
            let other = try daemon.client("other-agency", roles: [.agent])
            #expect(try await other.unary(OrdersService.capture, request, as: Parley_V1_CaptureResponse.self).order.state == .captured)
        }
    }

    @Test("a repeat that its own capture would now refuse (the last unit sold to it, a velocity rule it counts against) still gets the stored order: one authorization, one unit sold")
    func repeatAfterItsOwnCapture() async throws {
        try await withShop(stock: 1, fraudRules: [Self.cardVelocity("one-per-card", limit: 1, windowMs: 3_600_000)]) { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            let request = Self.buy([("lamp", 1)])
            let first = try await agent.unary(OrdersService.capture, request, as: Parley_V1_CaptureResponse.self)
            #expect(first.order.state == .captured)
            // Checked again, the same request is short of stock and over the
            // card's velocity: a retry must not read as a refusal.
            for _ in 0..<2 {
                let again = try await agent.unary(OrdersService.capture, request, as: Parley_V1_CaptureResponse.self)
                #expect(again.order == first.order)
                #expect(again.acceptance == first.acceptance)
            }
            #expect(try authorizations(daemon).count == 1)
            let stock = try await counters(daemon)
            #expect(stock.sold == 1 && stock.held == 0)
            // Another request under the id is still refused as one.
            var changed = request
            changed.buyer.email = "someone-else@example.com"
            await #expect {
                _ = try await agent.unary(OrdersService.capture, changed, as: Parley_V1_CaptureResponse.self)
            } throws: { error in
                (error as? RPCError)?.code == .failedPrecondition
            }
        }
    }

    @Test(
        "a decline or processor error fails the order, releases its hold and charges nothing",
        arguments: [
            (SimulatedPaymentProcessor.declinedCard, "CARD_DECLINED", "DECLINED"),
            (SimulatedPaymentProcessor.insufficientFundsCard, "INSUFFICIENT_FUNDS", "DECLINED"),
            (SimulatedPaymentProcessor.processorErrorCard, "PROCESSOR_UNAVAILABLE", nil),
        ]
    )
    func declined(card: String, code: String, processorState: String?) async throws {
        try await withShop { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            let response = try await agent.unary(OrdersService.capture, Self.buy([("lamp", 3)], card: card), as: Parley_V1_CaptureResponse.self)
            #expect(response.order.state == .failed)
            #expect(response.order.failureCode == code)
            #expect(response.order.authorizationID.isEmpty)
            let stock = try await counters(daemon)
            #expect(stock.held == 0 && stock.sold == 0)
            #expect(try authorizations(daemon).values.first == processorState)
            // A repeat answers the same failure without asking the processor again.
            let again = try await agent.unary(OrdersService.capture, Self.buy([("lamp", 3)], card: card), as: Parley_V1_CaptureResponse.self)
            #expect(again.order == response.order)
        }
    }

    @Test("too little stock: Negotiate and Capture amend with INVENTORY_SHORT and its menu; Capture writes nothing")
    func shortage() async throws {
        try await withShop(stock: 2) { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            var quote = Self.buy([("lamp", 5), ("solvent", 1)])
            quote.approval = .quote
            let negotiated = try await agent.unary(OrdersService.negotiate, quote, as: Parley_V1_OrderAcceptanceResponse.self)
            let short = try #require(negotiated.amendments.first { $0.code == "INVENTORY_SHORT" })
            #expect(negotiated.status == .amendments && short.path == "lines[0].quantity")
            #expect(short.alternatives.first?.replacements.first?.value == "2")
            #expect(short.alternatives.first?.priceDifference.minorUnits == -3 * 1_999)
            let captured = try await agent.unary(OrdersService.capture, Self.buy([("lamp", 5), ("solvent", 1)]), as: Parley_V1_CaptureResponse.self)
            #expect(captured.acceptance.status == .amendments && !captured.hasOrder)
            #expect(try await counters(daemon).held == 0)
            #expect(try authorizations(daemon).isEmpty)
        }
    }

    @Test("stock taken since Capture last saw its count: the capture's reservation refuses, with the same amendments a fresh read makes; nothing written")
    func shortageSinceLastSeen() async throws {
        try await withShop(stock: 5) { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            // Capture sees 5 free: it is refused for another reason (a declined card).
            let declined = try await agent.unary(OrdersService.capture, Self.buy([("lamp", 3)], id: "seen", card: SimulatedPaymentProcessor.declinedCard), as: Parley_V1_CaptureResponse.self)
            #expect(declined.order.state == .failed)
            // Another agent holds 4 through the warehouse; 1 is free, 5 were seen.
            _ = try await daemon.daemon.warehouse.reserve(
                owner: "rival-travel", lines: [ReservationLineRequest(merchant: "lamps", sku: "lamp", quantity: 4)], holdSeconds: 600, reference: "rival"
            )
            let request = Self.buy([("lamp", 3)], id: "after")
            let refused = try await agent.unary(OrdersService.capture, request, as: Parley_V1_CaptureResponse.self)
            #expect(refused.acceptance.status == .amendments && !refused.hasOrder)
            let short = try #require(refused.acceptance.amendments.first { $0.code == "INVENTORY_SHORT" })
            #expect(short.message == "3 of lamp wanted, 1 in stock" && short.alternatives.first?.replacements.first?.value == "1")
            #expect(try await counters(daemon).held == 4)
            #expect(try authorizations(daemon).keys.sorted() == ["acme-travel/seen"])
            // Asked again, the count is read (1 is less than 3 wanted): the same answer.
            let again = try await agent.unary(OrdersService.capture, request, as: Parley_V1_CaptureResponse.self)
            #expect(again.acceptance.amendments == refused.acceptance.amendments && !again.hasOrder)
            #expect(try await counters(daemon).held == 4)

            // Seen again with 5 free, then taken again; this time the check
            // refuses the order for something else (a coupon), so it never
            // reaches a hold: its stock is counted exactly, the shortage listed too.
            let rival = try await daemon.daemon.warehouse.reservations(caller: Self.admin, state: .held, limit: 10)
            for held in rival { _ = try await daemon.daemon.warehouse.release(id: held.id, caller: Self.admin) }
            _ = try await agent.unary(OrdersService.capture, Self.buy([("lamp", 3)], id: "seen-2", card: SimulatedPaymentProcessor.declinedCard), as: Parley_V1_CaptureResponse.self)
            _ = try await daemon.daemon.warehouse.reserve(
                owner: "rival-travel", lines: [ReservationLineRequest(merchant: "lamps", sku: "lamp", quantity: 4)], holdSeconds: 600, reference: "rival"
            )
            var coupon = Self.buy([("lamp", 3)], id: "coupon")
            coupon.coupons = ["not-a-coupon"]
            let both = try await agent.unary(OrdersService.capture, coupon, as: Parley_V1_CaptureResponse.self)
            #expect(both.acceptance.status != .acceptable && !both.hasOrder)
            #expect(both.acceptance.amendments.contains { $0.path == "coupons[0]" })
            #expect(both.acceptance.amendments.contains { $0.code == "INVENTORY_SHORT" && $0.message == "3 of lamp wanted, 1 in stock" })
            // Counted exactly from the start (1 is now the count seen): the same amendments.
            let exact = try await agent.unary(OrdersService.capture, coupon, as: Parley_V1_CaptureResponse.self)
            #expect(Set(exact.acceptance.amendments.map(\.message)) == Set(both.acceptance.amendments.map(\.message)))
            #expect(exact.acceptance.status == both.acceptance.status)
            #expect(try await counters(daemon).held == 4)
        }
    }

    @Test("reserve-on-quote: Negotiate holds the stock under a quote id; Capture with it uses that hold")
    func quoteHold() async throws {
        try await withShop(stock: 3, reserveOnQuote: true) { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            var request = Self.buy([("lamp", 3)])
            request.approval = .quote
            let quote = try await agent.unary(OrdersService.negotiate, request, as: Parley_V1_OrderAcceptanceResponse.self)
            #expect(quote.status == .acceptable && !quote.reservationID.isEmpty && quote.quoteID.hasPrefix("q1."))
            #expect(try await counters(daemon).held == 3)
            // Quoting again with the previous quote id replaces its hold instead of adding one.
            var again = request
            again.quoteID = quote.quoteID
            let requote = try await agent.unary(OrdersService.negotiate, again, as: Parley_V1_OrderAcceptanceResponse.self)
            #expect(requote.status == .acceptable && requote.reservationID != quote.reservationID)
            #expect(try await counters(daemon).held == 3)
            // Another agent now sees none free.
            let rival = try daemon.client("rival-travel", roles: [.agent])
            let rivalQuote = try await rival.unary(OrdersService.negotiate, Self.buy([("lamp", 1)], id: "r-1"), as: Parley_V1_OrderAcceptanceResponse.self)
            #expect(rivalQuote.amendments.contains { $0.code == "INVENTORY_SHORT" })

            request.quoteID = requote.quoteID
            request.approval = .captureIfAcceptable
            let captured = try await agent.unary(OrdersService.capture, request, as: Parley_V1_CaptureResponse.self)
            #expect(captured.order.state == .captured)
            #expect(captured.order.reservationID == requote.reservationID)
            let stock = try await counters(daemon)
            #expect(stock.sold == 3 && stock.held == 0)

            // A quote id is the server's and the order's own.
            var forged = Self.buy([("lamp", 1)], id: "order-2")
            forged.quoteID = requote.quoteID
            await #expect {
                _ = try await agent.unary(OrdersService.capture, forged, as: Parley_V1_CaptureResponse.self)
            } throws: { ($0 as? RPCError)?.violations.map(\.field) == ["quote_id"] }
            forged.quoteID = "q1.AAAA.BBBB"
            await #expect {
                _ = try await agent.unary(OrdersService.capture, forged, as: Parley_V1_CaptureResponse.self)
            } throws: { ($0 as? RPCError)?.violations.map(\.field) == ["quote_id"] }
        }
    }

    @Test("fraud velocity: the 4th order on one card within 90 minutes is refused and logged; after the window it passes")
    func velocity() async throws {
        let rule = Self.cardVelocity("card-90m", limit: 3, windowMs: 90 * 60_000)
        let clock = ManualWallClock()
        try await withShop(stock: 100, fraudRules: [rule], clock: clock) { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            for index in 1...3 {
                let response = try await agent.unary(OrdersService.capture, Self.buy([("lamp", 1)], id: "o-\(index)"), as: Parley_V1_CaptureResponse.self)
                #expect(response.order.state == .captured)
                clock.advance(by: .seconds(20 * 60))
            }
            let fourth = try await agent.unary(OrdersService.capture, Self.buy([("lamp", 1)], id: "o-4"), as: Parley_V1_CaptureResponse.self)
            #expect(fourth.acceptance.status == .rejected && !fourth.hasOrder)
            #expect(fourth.acceptance.amendments.contains { $0.code == "FRAUD_REJECTED" && $0.path == "payment_instruments" })
            // The first order leaves the window 90 minutes after it.
            clock.advance(by: .seconds(31 * 60))
            let fifth = try await agent.unary(OrdersService.capture, Self.buy([("lamp", 1)], id: "o-5"), as: Parley_V1_CaptureResponse.self)
            #expect(fifth.order.state == .captured)

            let merchant = try daemon.client("lamps", roles: [.merchant])
            var events = Parley_V1_ListFraudEventsResponse()
            for _ in 0..<50 where events.events.isEmpty {
                events = try await merchant.unary(OrdersService.listFraudEvents, Parley_V1_ListFraudEventsRequest(), as: Parley_V1_ListFraudEventsResponse.self)
                if events.events.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            }
            let event = try #require(events.events.first)
            #expect(event.ruleID == "card-90m" && event.orderID == "o-4" && event.observed == 4 && event.limit == 3 && event.action == "reject")
            #expect(event.key == "card_fingerprint" && !event.keyValue.contains("4242"))
            let agentList = Parley_V1_ListFraudEventsRequest()
            await #expect {
                _ = try await agent.unary(OrdersService.listFraudEvents, agentList, as: Parley_V1_ListFraudEventsResponse.self)
            } throws: { ($0 as? RPCError)?.code == .permissionDenied }
        }
    }

    static func quote(_ daemon: TestDaemon, _ id: String) async throws -> Parley_V1_OrderAcceptanceResponse {
        var request = Live.order([("lamp", 1)])
        request.orderID = id
        return try await daemon.client("acme-travel", roles: [.agent]).unary(OrdersService.negotiate, request, as: Parley_V1_OrderAcceptanceResponse.self)
    }

    @Test("quote-only requests a fraud rule counts survive a graceful restart: the shutdown snapshot keeps them")
    func fraudQuotesSurviveRestart() async throws {
        let rule = Self.cardVelocity("card-quotes", limit: 3, windowMs: 3_600_000, counting: ["quote_only", "rejected"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-snapshot-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = TestDaemonOptions()
        options.directory = directory
        // No periodic snapshot within the test: only the one at shutdown.
        options.configure = { $0.fraudSnapshotInterval = .seconds(3600) }
        try await withShop(fraudRules: [rule], options: options) { daemon in
            for index in 1...3 {
                let response = try await Self.quote(daemon, "q-\(index)")
                #expect(response.status == .acceptable)
            }
        }
        // Restarted over the same data: without the snapshot, the count would start from zero.
        try await withTestDaemon(options) { daemon in
            let fourth = try await Self.quote(daemon, "q-4")
            #expect(fourth.status == .rejected && fourth.amendments.contains { $0.code == "FRAUD_REJECTED" })
            let rows = try await daemon.daemon.database.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM orders_fraud_snapshot") ?? 0 }
            #expect(rows > 0)
        }
    }
}
