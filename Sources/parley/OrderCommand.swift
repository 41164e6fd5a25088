import ArgumentParser
import Foundation
import ParleyClient
import ParleyProtos
import ParleyWire
import SwiftProtobuf

/// The order file argument of `order quote` and `order buy`.
struct OrderFileOptions: ParsableArguments {
    @Argument(help: "The order (an OrderAcceptanceRequest): FILE.json, FILE.yaml or FILE.yml; - reads standard input.")
    var file: String
    @Flag(help: "Read the file (or standard input) as YAML whatever its name.") var yaml = false

    /// The request in the file, with `approval` set as the command needs it.
    func request(approval: Parley_V1_ApprovalStatus) throws -> Parley_V1_OrderAcceptanceRequest {
        var request = try readMessage(Parley_V1_OrderAcceptanceRequest.self, from: file, yaml: yaml)
        request.approval = approval
        return request
    }
}

extension Parley {
    /// `parley order ...`: negotiate, buy and look up orders as an agent.
    struct Order: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Negotiate and buy orders (role agent), and look them up.",
            subcommands: [Quote.self, Buy.self, Show.self, List.self]
        )

        static func method(_ name: String) -> MethodPath { MethodPath(service: "parley.v1.Orders", method: name) }

        /// `parley order quote FILE`: Negotiate ("recalculate").
        struct Quote: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Ask the merchant's opinion of an order and print it as amended, with the amendments and their alternatives.",
                discussion: """
                    Nothing is charged. The order file is an OrderAcceptanceRequest in protobuf's JSON form \
                    (proto field names or lowerCamelCase), or YAML of the same shape (examples/order.json, \
                    examples/order.yaml). Its approval is set to QUOTE.

                    Exit status: 0 ACCEPTABLE; 4 AMENDMENTS (choose an alternative for every amendment that \
                    must be resolved, change the file, quote again); 5 REJECTED; 1 an error (a bad file, an \
                    INVALID_ARGUMENT naming the field, no connection).
                    """
            )
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var order: OrderFileOptions
            @Flag(help: "Print the OrderAcceptanceResponse as protobuf JSON.") var json = false

            func run() async throws {
                let request = try order.request(approval: .quote)
                let response = try await withClient(connection) { client in
                    try await client.unary(Order.method("Negotiate"), request, as: Parley_V1_OrderAcceptanceResponse.self)
                }
                if json {
                    try printMessageJSON(response)
                } else {
                    printAcceptance(response)
                }
                switch response.status {
                case .acceptable: return
                case .amendments: throw ExitCode(4)
                default: throw ExitCode(5)
                }
            }
        }

        /// `parley order buy FILE`: Capture ("buy now").
        struct Buy: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Buy an order: run acceptance again and, if nothing is violated, authorize the payment and capture it.",
                discussion: """
                    The order file is the same as for `order quote`; its approval is set to \
                    CAPTURE_IF_ACCEPTABLE. Buying is idempotent on the order id: running the same file \
                    again returns the same outcome (the same authorization id) and never charges twice. \
                    Give the quote_id of an earlier `order quote` in the file to use the inventory it holds.

                    Prints the order as amended and the amendments (as `order quote` does), then the \
                    order's state: CAPTURED with the authorization id, or FAILED with a code and a message; \
                    and the reservation id.

                    Exit status: 0 CAPTURED; 4 acceptance returned AMENDMENTS (nothing was charged); \
                    5 REJECTED, or FAILED (the code and message say why); 6 the order is not finished (PENDING or \
                    AUTHORIZED: buy again with the same file, or `order show` it); 1 an error (a bad file, \
                    an INVALID_ARGUMENT naming the field, no connection).

                    The daemon's payment simulator: cards 4242424242424242 and 5555555555554444 are \
                    approved; 4000000000000002 is declined (CARD_DECLINED), 4000000000009995 is declined \
                    (INSUFFICIENT_FUNDS), 4000000000000119 fails at the processor (PROCESSOR_ERROR).
                    """
            )
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var order: OrderFileOptions
            @Flag(help: "Print the CaptureResponse as protobuf JSON.") var json = false

            func run() async throws {
                let request = try order.request(approval: .captureIfAcceptable)
                let response = try await withClient(connection) { client in
                    // Capture is idempotent on the order id; the key also lets
                    // the client retry this one call safely.
                    try await client.unary(
                        Order.method("Capture"),
                        request,
                        as: Parley_V1_CaptureResponse.self,
                        options: CallOptions(idempotencyKey: CallOptions.newIdempotencyKey())
                    )
                }
                if json {
                    try printMessageJSON(response)
                } else {
                    printAcceptance(response.acceptance)
                    print("")
                    printCaptureOutcome(response)
                }
                if let code = Self.exitCode(response) { throw ExitCode(code) }
            }

            /// nil for CAPTURED (exit 0), else the documented exit status.
            static func exitCode(_ response: Parley_V1_CaptureResponse) -> Int32? {
                if response.hasOrder {
                    switch response.order.state {
                    case .captured: return nil
                    case .failed: return 5
                    default: return 6
                    }
                }
                switch response.acceptance.status {
                case .amendments: return 4
                case .rejected: return 5
                default: return 6
                }
            }
        }

        /// `parley order show ORDER_ID`: GetOrder.
        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "One order: its state, payment, reservation, lines and totals.",
                discussion: "Agents see their own orders; a merchant sees orders placed with it and admin any (both name the agent with --agent, as order ids are per agent)."
            )
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The order id (the order_id of the order file).") var orderID: String
            @Option(help: "The agent that placed it (merchant or admin; default: the caller).") var agent = ""
            @Flag(help: "Print the Order as protobuf JSON.") var json = false

            func validate() throws {
                if orderID.isEmpty { throw ValidationError("give the order id") }
            }

            func run() async throws {
                var request = Parley_V1_GetOrderRequest()
                request.orderID = orderID
                request.agent = agent
                let order = try await withClient(connection) { client in
                    try await client.unary(Order.method("GetOrder"), request, as: Parley_V1_Order.self)
                }
                if json { return try printMessageJSON(order) }
                printOrder(order)
            }
        }

        /// `parley order list`: ListOrders.
        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Orders, newest first: an agent's own, or those placed with a merchant."
            )
            @OptionGroup var connection: ConnectionOptions
            @Option(help: "Only orders in this state: pending, authorized, captured or failed.") var state: StateFilter?
            @Option(help: "At most this many (1...1000; default: the daemon's).") var limit: Int32?
            @Flag(help: "Print the ListOrdersResponse as protobuf JSON.") var json = false

            enum StateFilter: String, CaseIterable, ExpressibleByArgument {
                case pending, authorized, captured, failed

                var wire: Parley_V1_OrderState {
                    switch self {
                    case .pending: .pending
                    case .authorized: .authorized
                    case .captured: .captured
                    case .failed: .failed
                    }
                }
            }

            func validate() throws {
                if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be 1...1000") }
            }

            func run() async throws {
                var request = Parley_V1_ListOrdersRequest()
                request.state = state?.wire ?? .unspecified
                request.limit = limit ?? 0
                let response = try await withClient(connection) { client in
                    try await client.unary(Order.method("ListOrders"), request, as: Parley_V1_ListOrdersResponse.self)
                }
                if json { return try printMessageJSON(response) }
                guard !response.orders.isEmpty else {
                    print(state.map { "no \($0.rawValue) orders" } ?? "no orders")
                    return
                }
                var table = Table(
                    .left("order"), .left("agent"), .left("merchant"), .left("state"), .right("total"), .left("created"), .left("authorization / failure")
                )
                for order in response.orders {
                    table.append([
                        order.orderID, order.agent, order.merchant, orderStateName(order.state),
                        order.hasOrder ? formatMoney(order.order.total) : "-",
                        order.createdAtMs == 0 ? "-" : iso8601(order.createdAtMs),
                        outcomeSummary(order),
                    ])
                }
                table.print()
            }
        }
    }
}

// MARK: - Readable output

/// `CAPTURED`, `FAILED`, ...: the proto's names, as operators and the docs say them.
func orderStateName(_ state: Parley_V1_OrderState) -> String {
    switch state {
    case .pending: "PENDING"
    case .authorized: "AUTHORIZED"
    case .captured: "CAPTURED"
    case .failed: "FAILED"
    case .unspecified: "UNSPECIFIED"
    case .UNRECOGNIZED(let value): "STATE_\(value)"
    }
}

/// The authorization id of a captured order, the failure of a failed one.
func outcomeSummary(_ order: Parley_V1_Order) -> String {
    switch order.state {
    case .captured: order.authorizationID
    case .failed: order.failureMessage.isEmpty ? order.failureCode : "\(order.failureCode): \(order.failureMessage)"
    default: ""
    }
}

/// A price difference as an operator reads it out: `12.00 USD more`,
/// `4.98 USD less`, `same price`.
func formatDifference(_ money: Parley_V1_Money) -> String {
    if money.minorUnits == 0 { return "same price" }
    var magnitude = money
    magnitude.minorUnits = money.minorUnits == .min ? .max : abs(money.minorUnits)
    return "\(formatMoney(magnitude)) \(money.minorUnits > 0 ? "more" : "less")"
}

/// What a 1-800 operator reads to a caller: the verdict, the order as
/// amended, the shipping options, and each amendment with its ranked
/// alternatives and what each would change the price by.
func printAcceptance(_ response: Parley_V1_OrderAcceptanceResponse) {
    let status = switch response.status {
    case .acceptable: "ACCEPTABLE"
    case .amendments: "AMENDMENTS NEEDED"
    case .rejected: "REJECTED"
    default: "UNKNOWN STATUS"
    }
    print("order \(response.orderID): \(status)\n")
    printAmendedOrder(response.order)
    if !response.shippingOptions.isEmpty {
        print("\nshipping options:")
        var options = Table(.left("method"), .right("price"), .right("difference"))
        for option in response.shippingOptions {
            options.append(["\(option.description_p) (\(option.shipper)/\(option.service))", formatMoney(option.price), formatDifference(option.priceDifference)])
        }
        options.print()
    } else if !response.shippingExplanation.isEmpty {
        print("\nnot shippable: \(response.shippingExplanation)")
    }
    if !response.quoteID.isEmpty {
        print("\nquote \(response.quoteID)" + (response.quoteExpiresAtMs == 0 ? "" : ", valid until \(iso8601(response.quoteExpiresAtMs))"))
    }
    if !response.reservationID.isEmpty {
        print("inventory held: reservation \(response.reservationID)"
            + (response.reservationExpiresAtMs == 0 ? "" : " until \(iso8601(response.reservationExpiresAtMs))"))
    }
    printAmendments(response.amendments)
}

/// The priced lines, then the totals (subtotal, discount, shipping, each tax, total) and the payment.
func printAmendedOrder(_ order: Parley_V1_AmendedOrder) {
    var lines = Table(.left("sku"), .left("item"), .right("qty"), .right("unit price"), .right("line total"), .right("discount"))
    for line in order.lines {
        lines.append([
            line.sku, line.free ? "\(line.title) (free)" : line.title, String(line.quantity),
            formatMoney(line.unitPrice), formatMoney(line.lineTotal), formatMoney(line.discount),
        ])
    }
    lines.print()
    print("")
    var totals = Table(.left(""), .right("amount"))
    totals.append(["subtotal", formatMoney(order.subtotal)])
    totals.append([order.couponsApplied.isEmpty ? "discount" : "discount (coupons \(order.couponsApplied.joined(separator: ", ")))", formatMoney(order.discount)])
    totals.append([
        order.hasShipping ? "shipping (\(order.shipping.description_p))" : "shipping (none possible)",
        order.hasShipping ? formatMoney(order.shipping.price) : "-",
    ])
    for tax in order.tax { totals.append(["\(tax.name) \(Double(tax.ratePpm) / 10_000)%", formatMoney(tax.tax)]) }
    totals.append(["total", formatMoney(order.total)])
    totals.print()
    if !order.paymentReference.isEmpty { print("\npaid by: \(order.paymentReference)") }
}

/// The amendments as one table: a row per amendment (`1`, `2`, ...: must it
/// be resolved, the field, the code, the message) and under it a row per
/// alternative in the merchant's order of preference (`1a`, `1b`, ...), with
/// its price difference against the order as requested and the changes it
/// makes to the request.
func printAmendments(_ amendments: [Parley_V1_Amendment]) {
    guard !amendments.isEmpty else { return }
    let blocking = amendments.filter(\.blocking).count
    let notes = amendments.count - blocking
    var summary: [String] = []
    if blocking > 0 { summary.append("\(blocking) to resolve before buying") }
    if notes > 0 { summary.append(notes == 1 ? "1 note that does not stop a purchase" : "\(notes) notes that do not stop a purchase") }
    print("\namendments: \(summary.joined(separator: ", "))")
    print("(alternatives are ranked, the merchant's first choice first; price differences are against the order as requested)")
    var table = Table(.left("#"), .left("resolve"), .left("field"), .left("code"), .right("price difference"), .left("what / alternative"))
    for (index, amendment) in amendments.enumerated() {
        let dead = amendment.blocking && amendment.alternatives.isEmpty
        table.append([
            "\(index + 1)", amendment.blocking ? "must" : "note", amendment.path, amendment.code, "",
            amendment.message + (dead ? " (no alternative: the order cannot go ahead)" : ""),
        ])
        for (rank, alternative) in amendment.alternatives.enumerated() {
            let changes = alternative.replacements.map(describeReplacement).joined(separator: ", ")
            table.append([
                "\(index + 1)\(rankLetter(rank))", "", "", "",
                alternative.hasPriceDifference ? formatDifference(alternative.priceDifference) : "",
                alternative.description_p + (changes.isEmpty ? "" : " (\(changes))"),
            ])
        }
    }
    table.print()
}

/// `a` ... `z`, then `aa`, `ab`, ...
private func rankLetter(_ rank: Int) -> String {
    let letters = Array("abcdefghijklmnopqrstuvwxyz")
    return rank < 26 ? String(letters[rank]) : String(letters[rank / 26 - 1]) + String(letters[rank % 26])
}

/// `set lines[0].quantity = 5`, `remove coupons[1]`: the change to the order file.
private func describeReplacement(_ replacement: Parley_V1_Replacement) -> String {
    replacement.remove ? "remove \(replacement.path)" : "set \(replacement.path) = \(replacement.value)"
}

/// After `order buy`'s acceptance: the order's state and what came of it.
func printCaptureOutcome(_ response: Parley_V1_CaptureResponse) {
    guard response.hasOrder else {
        let why = switch response.acceptance.status {
        case .amendments: "the order needs amendments (above)"
        case .rejected: "the merchant rejected the order"
        default: "the daemon wrote no order"
        }
        print("not bought: \(why); nothing was charged")
        return
    }
    let order = response.order
    var fields: [(String, String)] = [("state", orderStateName(order.state))]
    switch order.state {
    case .captured:
        fields.append(("authorization", order.authorizationID))
    case .failed:
        fields.append(("failure", order.failureCode.isEmpty ? "-" : order.failureCode))
        if !order.failureMessage.isEmpty { fields.append(("", order.failureMessage)) }
    default:
        fields.append(("", "not finished: buy again with the same file, or `parley order show \(order.orderID)`"))
    }
    fields.append(("reservation", order.reservationID.isEmpty ? "-" : order.reservationID))
    printFields(fields)
}

/// `parley order show`: the order's facts, then its lines and totals.
func printOrder(_ order: Parley_V1_Order) {
    print("order \(order.orderID): \(orderStateName(order.state))\n")
    var fields: [(String, String)] = [("agent", order.agent), ("merchant", order.merchant)]
    if order.hasBuyer {
        let buyer = order.buyer
        var text = buyer.name
        if !buyer.email.isEmpty { text += text.isEmpty ? buyer.email : " <\(buyer.email)>" }
        if !buyer.id.isEmpty { text += text.isEmpty ? buyer.id : " (\(buyer.id))" }
        fields.append(("buyer", text))
    }
    if order.hasShippingAddress {
        let address = order.shippingAddress
        let place = [address.city, [address.region, address.postalCode].filter { !$0.isEmpty }.joined(separator: " ")]
        fields.append(("ship to", ([address.name, address.line1, address.line2] + place + [address.country]).filter { !$0.isEmpty }.joined(separator: ", ")))
    }
    switch order.state {
    case .captured: fields.append(("authorization", order.authorizationID))
    case .failed: fields.append(("failure", outcomeSummary(order)))
    default: break
    }
    fields.append(("reservation", order.reservationID.isEmpty ? "-" : order.reservationID))
    if order.createdAtMs != 0 { fields.append(("created", iso8601(order.createdAtMs))) }
    if order.updatedAtMs != 0 { fields.append(("updated", iso8601(order.updatedAtMs))) }
    printFields(fields)
    if order.hasOrder {
        print("")
        printAmendedOrder(order.order)
    }
}

/// `label   value` lines, labels padded to the longest.
private func printFields(_ fields: [(String, String)]) {
    let width = fields.map(\.0.count).max() ?? 0
    for (label, value) in fields {
        print("\(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)")
    }
}
