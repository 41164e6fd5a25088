import ArgumentParser
import Foundation
import ParleyClient
import ParleyProtos
import ParleyWire

extension Parley {
    /// `parley admin ...`: daemon administration over the wire (role admin).
    struct Admin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Administer a running daemon (needs a certificate with role admin).",
            subcommands: [RevokeCertificate.self, Revocations.self]
        )

        struct Entry: Encodable {
            let serial: String
            let reason: String
            let revokedBy: String
            let revokedAtMs: Int64
            let source: String

            init(_ revocation: Parley_V1_Revocation) {
                serial = revocation.serial
                reason = revocation.reason
                revokedBy = revocation.revokedBy
                revokedAtMs = revocation.revokedAtMs
                source = revocation.source
            }
        }

        struct RevokeCertificate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "revoke",
                abstract: "Revoke a client certificate now; its open connections are closed."
            )
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The certificate serial, hexadecimal.") var serial: String
            @Option(help: "Why.") var reason = ""
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                var request = Parley_V1_RevokeCertificateRequest()
                request.serial = serial
                request.reason = reason
                let response = try await withClient(connection) { client in
                    try await client.unary(
                        MethodPath(service: "parley.v1.Admin", method: "RevokeCertificate"),
                        request,
                        as: Parley_V1_RevokeCertificateResponse.self,
                        options: CallOptions(idempotencyKey: CallOptions.newIdempotencyKey())
                    )
                }
                if json {
                    try printJSON(Entry(response.revocation))
                } else {
                    print(response.newlyRevoked ? "revoked \(response.revocation.serial)" : "\(response.revocation.serial) was already revoked")
                }
            }
        }

        struct Revocations: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List every revoked serial.")
            @OptionGroup var connection: ConnectionOptions
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let response = try await withClient(connection) { client in
                    try await client.unary(
                        MethodPath(service: "parley.v1.Admin", method: "ListRevocations"),
                        Parley_V1_ListRevocationsRequest(),
                        as: Parley_V1_ListRevocationsResponse.self
                    )
                }
                if json {
                    try printJSON(response.revocations.map(Entry.init))
                    return
                }
                if response.revocations.isEmpty {
                    print("no revoked certificates")
                    return
                }
                print("SERIAL                                    SOURCE    BY            REASON")
                for entry in response.revocations {
                    let serial = entry.serial.padding(toLength: 41, withPad: " ", startingAt: 0)
                    let source = entry.source.padding(toLength: 9, withPad: " ", startingAt: 0)
                    let by = (entry.revokedBy.isEmpty ? "-" : entry.revokedBy).padding(toLength: 13, withPad: " ", startingAt: 0)
                    print("\(serial) \(source) \(by) \(entry.reason)")
                }
            }
        }
    }
}
