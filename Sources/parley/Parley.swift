import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// `parley`: the operator CLI. Every RPC is a subcommand with readable
/// output and `--json`; `parley certs` manages certificates offline.
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Talk to parleyd, and manage its certificates.",
        subcommands: [Health.self, Certs.self, Admin.self, Warehouse.self, Merchant.self, Catalog.self, Order.self, Fraud.self]
    )
}
