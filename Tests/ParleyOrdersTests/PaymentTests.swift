import Crypto
import ParleyOrders
import Testing

@Suite("Payment")
struct PaymentTests {
    typealias F = Fixtures

    @Test("valid card numbers pass Luhn and length, and their brand is recognized", arguments: [
        ("4242 4242 4242 4242", CardBrand.visa, "4242"), ("4000-0566-5566-5556", .visa, "5556"),
        ("5555555555554444", .mastercard, "4444"), ("2223003122003222", .mastercard, "3222"),
        ("378282246310005", .amex, "0005"), ("6011111111111117", .discover, "1117"), ("6200000000000005", .unknown, "0005"),
    ])
    func validCards(number: String, brand: CardBrand, lastFour: String) throws {
        let card = try CardNumber(validating: number, field: "payment_instruments[0].card_number")
        #expect(card.brand == brand)
        #expect(card.lastFour == lastFour)
    }

    @Test("invalid card numbers are refused, naming the field and never echoing the number", arguments: [
        "4242 4242 4242 4241", "4242", "42424242424242424242", "4242-4242-4242-424x", "",
    ])
    func invalidCards(number: String) {
        let error = #expect(throws: OrdersError.self) { try CardNumber(validating: number, field: "payment_instruments[1].card_number") }
        #expect(error?.field == "payment_instruments[1].card_number")
        if number.count > 4 { #expect(error?.message.contains(number) == false) }
    }

    @Test("a card prints and reflects only its last four digits; fingerprints are stable, keyed ones differ")
    func fingerprint() throws {
        let card = try CardNumber(validating: "4242424242424242", field: "card")
        #expect("\(card)" == "card ending 4242")
        #expect(String(reflecting: card) == "card ending 4242")
        var dumped = ""
        dump(card, to: &dumped)
        #expect(!dumped.contains("42424242"))
        let spaced = try CardNumber(validating: "4242 4242 4242 4242", field: "card")
        #expect(card.fingerprint() == spaced.fingerprint())
        // SHA-256("4242424242424242"), first 16 bytes.
        #expect(card.fingerprint() == "477bba133c182267fe5f086924abdc5d")
        #expect(card.fingerprint().count == 32)
        let key = SymmetricKey(data: [UInt8](repeating: 1, count: 32))
        #expect(card.fingerprint(key: key) != card.fingerprint())
        #expect(card.summary(key: key) == CardSummary(fingerprint: card.fingerprint(key: key), lastFour: "4242", brand: .visa))
    }

    let policy = PaymentPolicy(
        acceptedKinds: [.purchaseOrder, .prepaidAccount, .card, .giftCertificate],
        minimumAmount: [.purchaseOrder: Fixtures.usd(10_000)]
    )
    let card = PaymentInstrument(kind: .card, reference: "tok_1", card: CardSummary(fingerprint: "fp", lastFour: "4242", brand: .visa))
    let prepaid = PaymentInstrument(kind: .prepaidAccount, reference: "acct-9", availableBalance: Fixtures.usd(100_000))
    let purchaseOrder = PaymentInstrument(kind: .purchaseOrder, reference: "PO-77")

    @Test("among acceptable instruments the merchant's most preferred kind is chosen, whatever the client's order")
    func merchantPreference() {
        let lines = F.priced([.init(sku: "WID-1", quantity: 2)])
        let decision = PaymentChoice.choose(instruments: [card, prepaid], lines: lines, amount: F.usd(2_000), policy: policy)
        #expect(decision.chosenIndex == 1)
        #expect(decision.chosen?.kind == .prepaidAccount)
        #expect(decision.amendments.isEmpty)
        // Purchase orders only from $100.00: below that the prepaid account still wins.
        let small = PaymentChoice.choose(instruments: [purchaseOrder, card, prepaid], lines: lines, amount: F.usd(2_000), policy: policy)
        #expect(small.chosenIndex == 2)
        #expect(small.acceptableKinds == [.prepaidAccount, .card, .giftCertificate])
        let large = PaymentChoice.choose(instruments: [card, purchaseOrder], lines: lines, amount: F.usd(20_000), policy: policy)
        #expect(large.chosen?.kind == .purchaseOrder)
    }

    @Test("an item that forbids the client's kind: PAYMENT_KIND_NOT_ACCEPTED with other kinds and removing the item as alternatives")
    func itemRestrictsKind() {
        let lines = F.priced([.init(sku: "WID-1", quantity: 1), .init(sku: "GIFT-50", quantity: 1)])
        let decision = PaymentChoice.choose(instruments: [prepaid], lines: lines, amount: F.usd(6_000), policy: policy)
        #expect(decision.chosen == nil)
        #expect(decision.acceptableKinds == [.card])
        let amendment = try! #require(decision.amendments.first)
        #expect(amendment.code == .paymentKindNotAccepted)
        #expect(amendment.path == "payment_instruments")
        #expect(amendment.message == "lines[1] (GIFT-50) cannot be paid by prepaid account")
        #expect(amendment.alternatives.map(\.description) == ["pay by card", "remove GIFT-50 to pay by prepaid account"])
        #expect(amendment.alternatives.map(\.priceDifference) == [F.usd(0), F.usd(-5_000)])
        #expect(amendment.alternatives[1].replacements == [.init(path: "lines[1]", value: .remove)])
    }

    @Test("a kind the merchant does not take, and a balance too small, are refused per instrument")
    func refusals() {
        let lines = F.priced([.init(sku: "BOOK-1", quantity: 1)])
        let cardOnly = PaymentPolicy(acceptedKinds: [.card, .giftCertificate])
        let certificate = PaymentInstrument(kind: .giftCertificate, reference: "GC-1", availableBalance: F.usd(1_000))
        let decision = PaymentChoice.choose(instruments: [purchaseOrder, certificate], lines: lines, amount: F.usd(1_999), policy: cardOnly)
        #expect(decision.refusals.map(\.index) == [0, 1])
        #expect(decision.refusals.map(\.code) == [.paymentKindNotAccepted, .paymentInsufficient])
        #expect(decision.amendments.first?.alternatives.map(\.description) == ["pay by card", "pay by gift certificate"])
        let poor = PaymentChoice.choose(instruments: [certificate], lines: lines, amount: F.usd(1_999), policy: cardOnly)
        #expect(poor.amendments.map(\.code) == [.paymentInsufficient])
        let none = PaymentChoice.choose(instruments: [], lines: lines, amount: F.usd(1_999), policy: cardOnly)
        #expect(none.amendments.first?.message == "no payment instrument was given")
    }
}
