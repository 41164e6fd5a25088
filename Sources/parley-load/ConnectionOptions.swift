import ArgumentParser
import Foundation
import ParleyClient

/// Where parleyd is and which certificates to present.
///
/// Either `--cert`, `--key` and `--ca` together, or a profile: `--profile dev`
/// (the default) reads `admin.pem`, `admin-key.pem` and `ca.pem` from
/// `certs/dev/` under the working directory, or from `--certs-dir`.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's address.", valueName: "host:port"))
    var server = "127.0.0.1:7443"

    @Option(help: ArgumentHelp("The client certificate (PEM).", valueName: "path"))
    var cert: String?

    @Option(help: ArgumentHelp("The client certificate's private key (PEM).", valueName: "path"))
    var key: String?

    @Option(help: ArgumentHelp("The CA that signed the server's certificate (PEM).", valueName: "path"))
    var ca: String?

    @Option(help: ArgumentHelp(
        "A certificate profile, used when --cert/--key/--ca are not given: \(Self.profiles.joined(separator: ", ")).",
        valueName: "name"
    ))
    var profile: String?

    @Option(help: ArgumentHelp("The profile's certificate directory (default: certs/<profile>).", valueName: "dir"))
    var certsDir: String?

    /// Profiles known by name; each reads the `admin` client certificate.
    static let profiles = ["dev"]
    static let defaultPort = 7443

    func validate() throws {
        _ = try endpoint()
        let explicit = [cert, key, ca].compactMap { $0 }
        if !explicit.isEmpty {
            guard explicit.count == 3 else {
                throw ValidationError("--cert, --key and --ca go together: give all three, or none and use --profile")
            }
            guard profile == nil, certsDir == nil else {
                throw ValidationError("--profile/--certs-dir and --cert/--key/--ca are alternatives: give one or the other")
            }
        }
        if let profile, !Self.profiles.contains(profile) {
            throw ValidationError("unknown profile '\(profile)'; known profiles: \(Self.profiles.joined(separator: ", "))")
        }
    }

    /// `host:port`, `[v6]:port`, or a bare host on the default port.
    func endpoint() throws -> (host: String, port: Int) {
        var text = Substring(server)
        var host: Substring
        var port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ValidationError("--server: missing ']' in '\(server)'") }
            host = text[text.index(after: text.startIndex)..<close]
            text = text[text.index(after: close)...]
            if !text.isEmpty {
                guard text.hasPrefix(":") else { throw ValidationError("--server: expected ':port' after ']' in '\(server)'") }
                port = text.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            host = text  // A bare host name, or an IPv6 literal without brackets.
        }
        guard !host.isEmpty else { throw ValidationError("--server: no host in '\(server)'") }
        guard let port else { return (String(host), Self.defaultPort) }
        guard let number = Int(port), (1...65535).contains(number) else {
            throw ValidationError("--server: '\(port)' is not a port number")
        }
        return (String(host), number)
    }

    /// The three PEM files to use.
    var files: (certificate: String, privateKey: String, ca: String) {
        if let cert, let key, let ca { return (cert, key, ca) }
        let directory = certsDir ?? "certs/\(profile ?? Self.profiles[0])"
        return (
            "\(directory)/admin.pem",
            "\(directory)/admin-key.pem",
            "\(directory)/ca.pem"
        )
    }

    /// A client configuration for `connections` connections that never retries.
    func clientConfiguration(connections: Int, callTimeout: Duration) throws -> ClientConfiguration {
        let (host, port) = try endpoint()
        let files = self.files
        for path in [files.certificate, files.privateKey, files.ca] where !FileManager.default.fileExists(atPath: path) {
            throw LoadFailure(
                "no such file: \(path) (run from the project root after creating the development certificates, or pass --certs-dir, or --cert/--key/--ca)"
            )
        }
        return ClientConfiguration(
            host: host,
            port: port,
            tls: .mTLS(certificate: files.certificate, privateKey: files.privateKey, ca: files.ca),
            connections: connections,
            defaultCallTimeout: callTimeout,
            retry: .none
        )
    }
}
