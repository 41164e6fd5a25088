import ArgumentParser
import Foundation
import ParleyPKI

extension Parley {
    /// `parley certs init | issue | revoke`: offline certificate management
    /// in a certificate directory (default `certs/dev`).
    struct Certs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the development CA, issue client certificates, revoke them.",
            subcommands: [Init.self, Issue.self, Revoke.self]
        )

        struct Directory: ParsableArguments {
            @Option(name: .customLong("certs-dir"), help: "Certificate directory.") var path = "certs/dev"
            var directory: CertificateDirectory { CertificateDirectory(path: path) }
        }

        struct Init: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a CA, a server certificate (localhost, 127.0.0.1, ::1) and an admin client certificate."
            )
            @OptionGroup var directory: Directory
            @Option(name: .customLong("server-dns"), help: "DNS names for the server certificate.") var dnsNames: [String] = ["localhost"]
            @Option(name: .customLong("server-ip"), help: "IP addresses for the server certificate.") var ipAddresses: [String] = ["127.0.0.1", "::1"]

            func run() throws {
                let certs = directory.directory
                if try certs.initialize(serverDNSNames: dnsNames, serverIPs: ipAddresses) {
                    print("created the CA, server and admin certificates in \(certs.url.path)")
                } else {
                    print("\(certs.url.path) already holds a CA; nothing changed")
                }
            }
        }

        struct Issue: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Issue a client certificate: CN = principal, one O per role.")
            @OptionGroup var directory: Directory
            @Option(help: "The principal (certificate CN), e.g. acme-travel.") var cn: String
            @Option(name: .customLong("role"), help: "A role (agent, merchant, supplier, affiliate, upseller, admin); repeat for several.") var roles: [String]
            @Option(help: "File name in the directory (default: the CN).") var name: String?
            @Option(help: "Validity in days.") var days = 365
            @Flag(help: "Print JSON.") var json = false

            func validate() throws {
                if roles.isEmpty { throw ValidationError("give at least one --role") }
                let known = Set(Role.known.map(\.name))
                for role in roles where !known.contains(role) {
                    throw ValidationError("unknown role '\(role)'; known roles: \(Role.known.map(\.name).joined(separator: ", "))")
                }
                if !(1...3650).contains(days) { throw ValidationError("--days must be 1...3650") }
            }

            func run() throws {
                let certs = directory.directory
                let fileName = name ?? cn
                let issued = try certs.issueClient(name: fileName, principal: cn, roles: roles.map { Role($0) }, validDays: days)
                let certificate = certs.clientCertificate(fileName).path
                let key = certs.clientPrivateKey(fileName).path
                if json {
                    try printJSON(["principal": cn, "roles": roles.joined(separator: ","), "serial": issued.serial, "certificate": certificate, "key": key])
                } else {
                    print("issued \(cn) [\(roles.joined(separator: ", "))] serial \(issued.serial)")
                    print("  certificate \(certificate)\n  key         \(key)")
                    print("  use: parley health --cert \(certificate) --key \(key) --ca \(certs.caCertificate.path)")
                }
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a serial to revoked.txt; parleyd rereads it on SIGHUP (or use `parley admin revoke` online)."
            )
            @OptionGroup var directory: Directory
            @Argument(help: "The certificate serial, hexadecimal.") var serial: String
            @Option(help: "Why.") var reason = ""

            func run() throws {
                let certs = directory.directory
                guard let normalized = CertificateSerial.normalize(text: serial) else {
                    throw ValidationError("'\(serial)' is not a hexadecimal serial number")
                }
                if try certs.revoke(serial: normalized, reason: reason) {
                    print("revoked \(normalized) in \(certs.revocationList.path); now run: kill -HUP $(pidof parleyd)")
                } else {
                    print("\(normalized) was already revoked")
                }
            }
        }
    }
}
