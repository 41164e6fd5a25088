public import Foundation
public import ParleyClient
public import ParleyPKI

/// Certificates made on the fly for one test: a CA, the server's
/// certificate, and client certificates of any shape (expired, not yet valid,
/// from another CA) written as PEM files in a temporary directory.
public struct TestPKI: Sendable {
    public let directory: URL
    public let authority: CertificateAuthority
    public let caPath: String
    public let serverCertificatePath: String
    public let serverKeyPath: String

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        authority = try CertificateAuthority.create(commonName: "Parley test CA")
        caPath = directory.appendingPathComponent("ca.pem").path
        try Data(authority.certificatePEM.utf8).write(to: URL(fileURLWithPath: caPath))
        let server = try authority.issueServer()
        serverCertificatePath = directory.appendingPathComponent("server.pem").path
        serverKeyPath = directory.appendingPathComponent("server-key.pem").path
        try Data(server.certificatePEM.utf8).write(to: URL(fileURLWithPath: serverCertificatePath))
        try Data(server.privateKeyPEM.utf8).write(to: URL(fileURLWithPath: serverKeyPath))
    }

    /// A client certificate and key on disk.
    public struct Credentials: Sendable {
        public let certificatePath: String
        public let keyPath: String
        /// The certificate's serial, normalized.
        public let serial: String
    }

    /// Issues a client certificate, by this CA or by `issuer`.
    public func client(
        _ principal: String,
        roles: [Role],
        notValidBefore: Date = Date().addingTimeInterval(-300),
        notValidAfter: Date = Date().addingTimeInterval(86_400),
        issuer: CertificateAuthority? = nil
    ) throws -> Credentials {
        let issued = try (issuer ?? authority).issueClient(
            principal: principal,
            roles: roles,
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter
        )
        let name = "\(principal)-\(issued.serial.prefix(12))"
        let certificatePath = directory.appendingPathComponent("\(name).pem").path
        let keyPath = directory.appendingPathComponent("\(name)-key.pem").path
        try Data(issued.certificatePEM.utf8).write(to: URL(fileURLWithPath: certificatePath))
        try Data(issued.privateKeyPEM.utf8).write(to: URL(fileURLWithPath: keyPath))
        return Credentials(certificatePath: certificatePath, keyPath: keyPath, serial: issued.serial)
    }

    public func tls(_ credentials: Credentials?) -> ClientConfiguration.TLS {
        guard let credentials else { return .withoutClientCertificate(ca: caPath) }
        return .mTLS(certificate: credentials.certificatePath, privateKey: credentials.keyPath, ca: caPath)
    }
}
