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
    /// already exists. Returns whether anything was created. A directory with
    /// some of the files but not all is an error: replacing the CA would
    /// silently invalidate every certificate it issued.
    @discardableResult
    public func initialize(serverDNSNames: [String] = ["localhost"], serverIPs: [String] = ["127.0.0.1", "::1"]) throws -> Bool {
        if isInitialized { return false }
        let files = FileManager.default
        let present = [caCertificate, caPrivateKey, serverCertificate, serverPrivateKey].filter { files.fileExists(atPath: $0.path) }
        guard present.isEmpty else {
            throw PKIError(
                message: "\(url.path) is incomplete (has \(present.map(\.lastPathComponent).joined(separator: ", ")) but not all of ca.pem, ca-key.pem, server.pem, server-key.pem); restore the missing files or move the directory away"
            )
        }
        try files.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
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
        // Rewrite the whole file atomically, so a file without a final
        // newline never glues the new serial onto the last line.
        var text = (try? String(contentsOf: revocationList, encoding: .utf8)) ?? ""
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        try write(text + line, to: revocationList)
        return true
    }

    private func write(_ text: String, to file: URL) throws {
        try Data(text.utf8).write(to: file, options: .atomic)
    }

    /// Writes a private key readable by its owner only, from the first byte.
    private func writeSecret(_ text: String, to file: URL) throws {
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw PKIError(message: "cannot create \(temporary.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.write(contentsOf: Data(text.utf8))
            try handle.synchronize()
            try handle.close()
            guard rename(temporary.path, file.path) == 0 else {
                throw PKIError(message: "cannot move the new key into \(file.path): errno \(errno)")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
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
