import ArgumentParser
import Foundation
import ParleyClient
import ParleyPKI
import ParleyWire

/// Where the daemon is and who we are: `--server`, then `--cert/--key/--ca`,
/// or a certificate directory (`--certs-dir`, default `certs/dev`) with a
/// named client certificate (`--as`, default `admin`).
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The daemon, HOST:PORT.") var server = "127.0.0.1:7443"
    @Option(help: "Client certificate (PEM).") var cert: String?
    @Option(help: "Client private key (PEM).") var key: String?
    @Option(help: "CA that signed the server certificate (PEM).") var ca: String?
    @Option(name: .customLong("certs-dir"), help: "Certificate directory used when --cert/--key/--ca are not given.") var certificateDirectory = "certs/dev"
    @Option(help: "A named set of certificates: 'dev' is certs/dev (the default).") var profile: String?
    @Option(name: .customLong("as"), help: "Client certificate name in the certificate directory.") var identity = "admin"
    @Option(help: "Call timeout in milliseconds.") var timeoutMs: Int = 10_000

    func validate() throws {
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together") }
        if let profile, profile != "dev" { throw ValidationError("unknown --profile '\(profile)'; the only profile is 'dev' (certs/dev)") }
        _ = try hostAndPort()
    }

    func hostAndPort() throws -> (String, Int) {
        guard let colon = server.lastIndex(of: ":"), let port = Int(server[server.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("--server must be HOST:PORT, for example 127.0.0.1:7443")
        }
        var host = String(server[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    func makeClient() throws -> ParleyClient {
        let (host, port) = try hostAndPort()
        let directory = CertificateDirectory(path: certificateDirectory)
        let certificate = cert ?? directory.clientCertificate(identity).path
        let privateKey = key ?? directory.clientPrivateKey(identity).path
        let authority = ca ?? directory.caCertificate.path
        for (label, path) in [("client certificate", certificate), ("private key", privateKey), ("CA certificate", authority)]
        where !FileManager.default.fileExists(atPath: path) {
            throw CLIError("no \(label) at \(path): start parleyd once (it creates certs/dev), run `parley certs init`, or pass --cert/--key/--ca")
        }
        do {
            return try ParleyClient(
                configuration: ClientConfiguration(
                    host: host,
                    port: port,
                    tls: .mTLS(certificate: certificate, privateKey: privateKey, ca: authority),
                    defaultCallTimeout: .milliseconds(timeoutMs)
                )
            )
        } catch {
            throw CLIError("cannot load the certificates: \(error)")
        }
    }
}

/// A message for the operator; exits 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a client, turning call failures into readable errors.
func withClient<T>(_ options: ConnectionOptions, _ body: (ParleyClient) async throws -> T) async throws -> T {
    let client = try options.makeClient()
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch let error as RPCError {
        await client.close()
        throw CLIError(explain(error, server: options.server))
    } catch {
        await client.close()
        throw error
    }
}

func explain(_ error: RPCError, server: String) -> String {
    var text = "\(error.code): \(error.message)"
    for violation in error.violations { text += "\n  \(violation.field): \(violation.description)" }
    switch error.code {
    case .unavailable where error.message.contains("cannot connect"):
        text += "\nIs parleyd running at \(server)? Start it with tools/run-daemon."
    case .unauthenticated:
        text += "\nThe daemon refused this client certificate: is it issued by the daemon's CA, unexpired and not revoked?"
    case .unimplemented:
        text += "\nThis parleyd does not serve that method: it is older than this parley (parley health shows its version)."
    default:
        break
    }
    return text
}

/// Prints `value` as sorted, pretty JSON.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
