import ParleyOrders
import Testing

@Suite("Fraud avoidance")
struct FraudTests {
    typealias F = Fixtures
    static let minute: Int64 = 60_000
    let t0 = Fixtures.wednesday

    func subject(card: String? = "fp-card-1", buyer: String = "buyer-1", buyerClass: String? = "consumer", email: String? = nil, lines: [PricedLine]? = nil) -> FraudSubject {
        let priced = lines ?? F.priced([.init(sku: "WID-1", quantity: 2)])
        let total = priced.reduce(Int64(0)) { $0 + $1.lineTotal.minorUnits }
        return FraudSubject(
            buyerID: buyer, buyerClass: buyerClass, email: email, ipAddress: "203.0.113.9", cardFingerprint: card,
            postalCode: "98101", lines: priced.map(FraudLine.init), total: F.usd(total)
        )
    }

    let cardVelocity = FraudRule(
        id: "card-3-per-90m",
        kind: .velocity(VelocityLimit(keyKind: .cardFingerprint, windowMilliseconds: 90 * 60_000, measure: .orders(max: 3)))
    )

    @Test("the 4th order on one card within 90 minutes is refused; once the window passes the next is accepted")
    func fourthOrderOnOneCard() throws {
        var statistics = FraudStatistics()
        // Three orders on the same card from different buyers, 20 minutes apart: all accepted.
        for (index, offset) in [0, 20, 40].enumerated() {
            let order = subject(buyer: "buyer-\(index)")
            let now = t0 + Int64(offset) * Self.minute
            #expect(FraudAvoidance.evaluate(order, rules: [cardVelocity], statistics: statistics, now: now).isEmpty)
            statistics.record(order, outcome: .accepted, at: now)
        }

        // The 4th, at 60 minutes, is refused.
        let fourth = subject(buyer: "buyer-3")
        let now = t0 + 60 * Self.minute
        let violations = FraudAvoidance.evaluate(fourth, rules: [cardVelocity], statistics: statistics, now: now)
        let violation = try #require(violations.first)
        #expect(violations.count == 1)
        #expect(violation.ruleID == "card-3-per-90m")
        #expect(violation.key == FraudKey(.cardFingerprint, "fp-card-1"))
        #expect(violation.observed == 4)
        #expect(violation.limit == 3)
        #expect(violation.windowMilliseconds == 90 * Self.minute)
        #expect(violation.action == .reject)
        #expect(violation.atMilliseconds == now)
        #expect(violation.message == "4 orders for card_fingerprint in 90 minutes, more than the 3 allowed (rule card-3-per-90m)")
        #expect(violation.amendment.code == .fraudRejected)
        #expect(violation.amendment.path == "payment_instruments")
        #expect(violation.amendment.isBlocking)
        statistics.record(fourth, outcome: .rejected, at: now)

        // Another card at the same moment is fine.
        #expect(FraudAvoidance.evaluate(subject(card: "fp-card-2"), rules: [cardVelocity], statistics: statistics, now: now).isEmpty)
        // One millisecond before the first order leaves the window, still refused.
        #expect(FraudAvoidance.evaluate(subject(), rules: [cardVelocity], statistics: statistics, now: t0 + 90 * Self.minute - 1).count == 1)
        // At 90 minutes the first order is out of the window (and the rejected one never counted): accepted.
        #expect(FraudAvoidance.evaluate(subject(), rules: [cardVelocity], statistics: statistics, now: t0 + 90 * Self.minute).isEmpty)
    }

    @Test("only permitted buyer classes may buy an item class")
    func buyerClassPermission() throws {
        let rule = FraudRule(id: "chemicals-b2b", kind: .itemClassPermission(itemClass: "chemicals", allowedBuyerClasses: ["verified-business"]))
        let lines = F.priced([.init(sku: "WID-1", quantity: 1), .init(sku: "ACID-NITRIC", quantity: 1)])
        let statistics = FraudStatistics()
        let refused = FraudAvoidance.evaluate(subject(buyerClass: "consumer", lines: lines), rules: [rule], statistics: statistics, now: t0)
        #expect(refused.map(\.path) == ["lines[1]"])
        #expect(refused.first?.key == FraudKey(.itemClass, "chemicals"))
        #expect(refused.first?.message == "buyers of class 'consumer' may not buy chemicals items (rule chemicals-b2b)")
        #expect(FraudAvoidance.evaluate(subject(buyerClass: nil, lines: lines), rules: [rule], statistics: statistics, now: t0).count == 1)
        #expect(FraudAvoidance.evaluate(subject(buyerClass: "verified-business", lines: lines), rules: [rule], statistics: statistics, now: t0).isEmpty)
        #expect(FraudAvoidance.evaluate(subject(buyerClass: "consumer"), rules: [rule], statistics: statistics, now: t0).isEmpty)
    }

    @Test("a units limit per item class for one buyer class flags without blocking")
    func unitsPerItemClassFlagged() {
        let rule = FraudRule(
            id: "consumer-chemicals-per-day",
            kind: .velocity(VelocityLimit(
                keyKind: .itemClass, windowMilliseconds: 86_400_000, measure: .units(max: 5),
                buyerClasses: ["consumer"], itemClasses: ["chemicals"]
            )),
            action: .flag
        )
        var statistics = FraudStatistics()
        let three = subject(lines: F.priced([.init(sku: "ACID-NITRIC", quantity: 3), .init(sku: "WID-1", quantity: 40)]))
        #expect(FraudAvoidance.evaluate(three, rules: [rule], statistics: statistics, now: t0).isEmpty)
        statistics.record(three, outcome: .accepted, at: t0)
        let violations = FraudAvoidance.evaluate(three, rules: [rule], statistics: statistics, now: t0 + 3_600_000)
        #expect(violations.map(\.observed) == [6])
        #expect(violations.first?.amendment.code == .fraudFlagged)
        #expect(violations.first?.amendment.isBlocking == false)
        // Business buyers are not subject to the rule.
        let business = subject(buyerClass: "business", lines: F.priced([.init(sku: "ACID-NITRIC", quantity: 3)]))
        #expect(FraudAvoidance.evaluate(business, rules: [rule], statistics: statistics, now: t0 + 3_600_000).isEmpty)
    }

    @Test("an amount limit per e-mail adds only amounts in its currency")
    func amountPerEmail() {
        let rule = FraudRule(id: "email-500-per-week", kind: .velocity(VelocityLimit(
            keyKind: .email, windowMilliseconds: 7 * 86_400_000, measure: .amount(max: F.usd(50_000))
        )))
        var statistics = FraudStatistics()
        statistics.record(key: FraudKey(.email, "pat@example.com"), outcome: .accepted, quantity: 1, amount: F.usd(40_000), at: t0)
        statistics.record(key: FraudKey(.email, "pat@example.com"), outcome: .accepted, quantity: 1, amount: F.cad(90_000), at: t0)
        // $400 before + $90 now = $490: allowed (the CA$900 does not count).
        let ninety = subject(email: "PAT@example.com", lines: F.priced([.init(sku: "WID-1", quantity: 10)]))
        #expect(ninety.total == F.usd(9_000))
        #expect(FraudAvoidance.evaluate(ninety, rules: [rule], statistics: statistics, now: t0 + 1).isEmpty)
        let more = subject(email: "pat@example.com", lines: F.priced([.init(sku: "WID-1", quantity: 12)]))
        let violations = FraudAvoidance.evaluate(more, rules: [rule], statistics: statistics, now: t0 + 1)
        #expect(violations.map(\.observed) == [50_800])
        #expect(violations.map(\.path) == ["buyer.email"])
    }

    @Test("quote-only requests count only for rules that count them")
    func quoteOnly() {
        let quotesPerMinute = FraudRule(id: "ip-quotes", kind: .velocity(VelocityLimit(
            keyKind: .ipAddress, windowMilliseconds: Self.minute, measure: .orders(max: 5), counting: [.quoteOnly, .accepted, .rejected]
        )))
        let order = subject()
        var statistics = FraudStatistics()
        for second in 0..<5 { statistics.record(order, outcome: .quoteOnly, at: t0 + Int64(second) * 1_000) }
        #expect(FraudAvoidance.evaluate(order, rules: [quotesPerMinute], statistics: statistics, now: t0 + 5_000).map(\.observed) == [6])
        #expect(FraudAvoidance.evaluate(order, rules: [cardVelocity], statistics: statistics, now: t0 + 5_000).isEmpty)
        let totals = statistics.totals(for: FraudKey(.ipAddress, "203.0.113.9"), windowMilliseconds: Self.minute, now: t0 + 5_000, outcomes: [.quoteOnly])
        #expect(totals.orders == 5)
        #expect(totals.units == 10)
    }

    @Test("window boundaries: an event exactly W ago is out, one W−1 ago is in, later ones are not yet counted")
    func windowBoundaries() {
        var statistics = FraudStatistics()
        let key = FraudKey(.buyer, "b")
        for at in [t0, t0 + 1, t0 + 1_000, t0 + 2_000] { statistics.record(key: key, outcome: .accepted, quantity: 1, amount: F.usd(100), at: at) }
        let totals = statistics.totals(for: key, windowMilliseconds: 1_000, now: t0 + 1_000, outcomes: [.accepted], currency: .usd)
        #expect(totals == WindowTotals(orders: 2, units: 2, amountMinorUnits: 200))
        #expect(statistics.totals(for: FraudKey(.buyer, "unknown"), windowMilliseconds: 1_000, now: t0, outcomes: [.accepted]) == WindowTotals())
    }

    @Test("memory is bounded: at most maximumKeys keys (least recently recorded evicted) and maximumEventsPerKey events each")
    func bounded() {
        var statistics = FraudStatistics(limits: .init(maximumKeys: 3, maximumEventsPerKey: 4, retentionMilliseconds: 86_400_000))
        func record(_ value: String, at: Int64) {
            statistics.record(key: FraudKey(.ipAddress, value), outcome: .accepted, quantity: 1, amount: F.usd(1), at: at)
        }
        func count(_ value: String) -> Int64 {
            statistics.totals(for: FraudKey(.ipAddress, value), windowMilliseconds: 86_400_000, now: t0 + 100, outcomes: [.accepted]).orders
        }
        record("a", at: t0); record("b", at: t0 + 1); record("c", at: t0 + 2)
        record("a", at: t0 + 3) // a is now the most recent
        record("d", at: t0 + 4) // evicts b, the least recently recorded
        #expect(statistics.trackedKeyCount == 3)
        #expect(count("b") == 0)
        #expect(count("a") == 2)
        for at in 10..<20 { record("a", at: t0 + Int64(at)) }
        #expect(count("a") == 4) // the ring keeps the newest 4
        #expect(statistics.eventCount == 4 + 1 + 1)
        for index in 0..<1_000 { record("k\(index)", at: t0 + 50) }
        #expect(statistics.trackedKeyCount == 3)
        #expect(statistics.eventCount == 3)
    }

    @Test("old events expire by retention, on record and in a sweep that also drops empty keys")
    func retention() {
        var statistics = FraudStatistics(limits: .init(maximumKeys: 10, maximumEventsPerKey: 8, retentionMilliseconds: 10_000))
        let key = FraudKey(.postalCode, "98101")
        statistics.record(key: key, outcome: .accepted, quantity: 1, amount: F.usd(1), at: t0)
        statistics.record(key: FraudKey(.buyer, "x"), outcome: .accepted, quantity: 1, amount: F.usd(1), at: t0)
        statistics.record(key: key, outcome: .accepted, quantity: 1, amount: F.usd(1), at: t0 + 10_000) // drops the first
        #expect(statistics.eventCount == 2)
        statistics.evictExpired(now: t0 + 20_000)
        #expect(statistics.trackedKeyCount == 0)
        #expect(statistics.eventCount == 0)
    }

    @Test("keys are normalized; long values are hashed to a fixed length")
    func keys() {
        #expect(FraudKey(.email, " Pat@Example.COM ") == FraudKey(.email, "pat@example.com"))
        #expect(FraudKey(.postalCode, "m5h 2n2") == FraudKey(.postalCode, "M5H2N2"))
        let long = FraudKey(.ipAddress, String(repeating: "x", count: 500))
        #expect(long.value.hasPrefix("sha256:"))
        #expect(long.value.count == 7 + 32)
        let contributions = subject(lines: F.priced([.init(sku: "WID-1", quantity: 2), .init(sku: "BOOK-1", quantity: 1), .init(sku: "WID-1", quantity: 3)])).contributions
        let items = contributions.filter { $0.key.kind == .item }
        #expect(items.map(\.key.value) == ["WID-1", "BOOK-1"])
        #expect(items.map(\.units) == [5, 1])
        #expect(items.first?.path == "lines[0]")
    }

    @Test("rules are validated against what the statistics can answer exactly")
    func ruleValidation() {
        let limits = FraudStatistics.Limits(maximumKeys: 100, maximumEventsPerKey: 32, retentionMilliseconds: 86_400_000)
        let tooLong = FraudRule(id: "r", kind: .velocity(VelocityLimit(keyKind: .buyer, windowMilliseconds: 2 * 86_400_000, measure: .orders(max: 3))))
        #expect((#expect(throws: OrdersError.self) { try tooLong.validate(index: 2, against: limits) })?.field == "rules[2].window_ms")
        let tooMany = FraudRule(id: "r", kind: .velocity(VelocityLimit(keyKind: .buyer, windowMilliseconds: 1_000, measure: .orders(max: 32))))
        #expect((#expect(throws: OrdersError.self) { try tooMany.validate(index: 0, against: limits) })?.field == "rules[0].limit")
        #expect(throws: Never.self) { try cardVelocity.validate(index: 0, against: limits) }
    }
}
