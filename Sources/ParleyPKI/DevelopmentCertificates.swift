public import Foundation

/// The files of a certificate directory such as `certs/dev/`:
///
/// | file | what |
/// |---|---|
/// | `ca.pem`, `ca-key.pem` | the development CA (the key never leaves this machine) |
/// | `server.pem`, `server-key.pem` | parleyd's certificate for localhost, 127.0.0.1 and ::1 |
/// | `<name>.pem`, `<name>-key.pem` | client certificates; `admin` (roles admin, agent) is made by `init` |
/// | `revoked.txt` | revoked serials, one per line (`#` comments); parleyd rereads it on SIGHUP |
public struct CertificateDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }
    public init(path: String) { self.url = URL(fileURLWithPath: path) }

    public var caCertificate: URL { url.appendingPathComponent("ca.pem") }
    public var caPrivateKey: URL { url.appendingPathComponent("ca-key.pem") }
    public var serverCertificate: URL { url.appendingPathComponent("server.pem") }
    public var serverPrivateKey: URL { url.appendingPathComponent("server-key.pem") }
    public var revocationList: URL { url.appendingPathComponent("revoked.txt") }
    public func clientCertificate(_ name: String) -> URL { url.appendingPathComponent("\(name).pem") }
    public func clientPrivateKey(_ name: String) -> URL { url.appendingPathComponent("\(name)-key.pem") }

    /// True when the CA and server certificate exist.
    public var isInitialized: Bool {
        let files = FileManager.default
        return [caCertificate, caPrivateKey, serverCertificate, serverPrivateKey].allSatisfy {
            files.fileExists(atPath: $0.path)
        }
    }

    /// Creates the CA, the server certificate, an `admin` client certificate
    /// (roles admin and agent) and an empty revocation list, unless the CA
    /// already exists. Returns whether anything was created.
    @discardableResult
    public func initialize(serverDNSNames: [String] = ["localhost"], serverIPs: [String] = ["127.0.0.1", "::1"]) throws -> Bool {
        if isInitialized { return false }
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let authority = try CertificateAuthority.create()
        try write(authority.certificatePEM, to: caCertificate)
        try writeSecret(authority.privateKeyPEM, to: caPrivateKey)
        let server = try authority.issueServer(dnsNames: serverDNSNames, ipAddresses: serverIPs)
        try write(server.certificatePEM, to: serverCertificate)
        try writeSecret(server.privateKeyPEM, to: serverPrivateKey)
        _ = try issueClient(name: "admin", principal: "admin", roles: [.admin, .agent], authority: authority)
        if !FileManager.default.fileExists(atPath: revocationList.path) {
            try write("# Revoked client certificate serials (hex), one per line. parleyd rereads this on SIGHUP.\n", to: revocationList)
        }
        return true
    }

    /// Loads the CA kept in this directory.
    public func authority() throws -> CertificateAuthority {
        do {
            return try CertificateAuthority(
                certificatePEM: String(contentsOf: caCertificate, encoding: .utf8),
                privateKeyPEM: String(contentsOf: caPrivateKey, encoding: .utf8)
            )
        } catch {
            throw PKIError(message: "cannot load the CA from \(url.path): \(error) (run `parley certs init` first)")
        }
    }

    /// Issues a client certificate into `<name>.pem` and `<name>-key.pem`.
    public func issueClient(
        name: String,
        principal: String,
        roles: [Role],
        validDays: Int = 365,
        authority: CertificateAuthority? = nil
    ) throws -> IssuedCertificate {
        guard !name.isEmpty, !name.contains("/"), name != "ca", name != "server" else {
            throw PKIError(message: "invalid certificate file name '\(name)'")
        }
        let authority = try authority ?? self.authority()
        let issued = try authority.issueClient(
            principal: principal,
            roles: roles,
            notValidAfter: Date().addingTimeInterval(Double(validDays) * 86_400)
        )
        try write(issued.certificatePEM, to: clientCertificate(name))
        try writeSecret(issued.privateKeyPEM, to: clientPrivateKey(name))
        return issued
    }

    /// Appends a serial to `revoked.txt`. Returns false when it was already there.
    @discardableResult
    public func revoke(serial: String, reason: String) throws -> Bool {
        guard let normalized = CertificateSerial.normalize(text: serial) else {
            throw PKIError(message: "'\(serial)' is not a hexadecimal serial number")
        }
        let existing = try RevocationFile.read(revocationList)
        if existing.contains(normalized) { return false }
        let line = reason.isEmpty ? "\(normalized)\n" : "\(normalized) # \(reason.replacingOccurrences(of: "\n", with: " "))\n"
        if let handle = try? FileHandle(forWritingTo: revocationList) {
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(line.utf8))
        } else {
            try write(line, to: revocationList)
        }
        return true
    }

    private func write(_ text: String, to file: URL) throws {
        try Data(text.utf8).write(to: file, options: .atomic)
    }

    private func writeSecret(_ text: String, to file: URL) throws {
        try Data(text.utf8).write(to: file, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
    }
}

/// The revocation file: one hexadecimal serial per line; `#` starts a comment.
public enum RevocationFile {
    /// The serials in `file`, normalized. A missing file is an empty list.
    public static func read(_ file: URL) throws -> Set<String> {
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        let text = try String(contentsOf: file, encoding: .utf8)
        var serials = Set<String>()
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let serial = CertificateSerial.normalize(text: trimmed) else {
                throw PKIError(message: "\(file.path):\(number + 1): '\(trimmed)' is not a hexadecimal serial")
            }
            serials.insert(serial)
        }
        return serials
    }
}
