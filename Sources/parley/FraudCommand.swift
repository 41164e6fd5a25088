import ArgumentParser
import Foundation
import ParleyClient
import ParleyProtos
import ParleyWire

extension Parley {
    /// `parley fraud ...`: the fraud avoidance violation log.
    struct Fraud: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The fraud avoidance violation log (merchant: its own; admin: every merchant's).",
            subcommands: [Events.self]
        )

        /// `parley fraud events`: ListFraudEvents.
        struct Events: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Fraud rule violations, oldest first: which rule, the key that broke it, what was observed against the limit, and the action taken.",
                discussion: "Page with --after: when a page is full, the id to pass next is printed on standard error."
            )
            @OptionGroup var connection: ConnectionOptions
            @Option(help: "The merchant (admin only; default: the caller, or every merchant for admin).") var merchant = ""
            @Option(help: "Only events after this id (paging).") var after: Int64?
            @Option(help: "At most this many (1...1000; default: the daemon's).") var limit: Int32?
            @Flag(help: "Print the ListFraudEventsResponse as protobuf JSON.") var json = false

            func validate() throws {
                if let after, after < 0 { throw ValidationError("--after must not be negative") }
                if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be 1...1000") }
            }

            func run() async throws {
                var request = Parley_V1_ListFraudEventsRequest()
                request.merchant = merchant
                request.afterID = after ?? 0
                request.limit = limit ?? 0
                let response = try await withClient(connection) { client in
                    try await client.unary(
                        Order.method("ListFraudEvents"),
                        request,
                        as: Parley_V1_ListFraudEventsResponse.self
                    )
                }
                if json { return try printMessageJSON(response) }
                guard !response.events.isEmpty else {
                    print(after.map { "no fraud events after \($0)" } ?? "no fraud events")
                    return
                }
                var table = Table(
                    .right("id"), .left("time"), .left("merchant"), .left("order"), .left("rule"), .left("key=value"),
                    .right("observed/limit"), .left("action")
                )
                for event in response.events {
                    table.append([
                        String(event.id),
                        event.atMs == 0 ? "-" : iso8601(event.atMs),
                        event.merchant,
                        event.agent.isEmpty ? event.orderID : "\(event.orderID) (\(event.agent))",
                        event.ruleID,
                        "\(event.key)=\(event.keyValue)",
                        "\(event.observed)/\(event.limit)",
                        event.action,
                    ])
                }
                table.print()
                if let limit, response.events.count >= Int(limit), let last = response.events.last {
                    printToStandardError("more may follow: --after \(last.id)")
                }
            }
        }
    }
}
