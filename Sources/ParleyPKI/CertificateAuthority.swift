public import Foundation
public import X509
import Crypto
import SwiftASN1

/// A certificate authority that issues Parley's server and client
/// certificates: ECDSA P-256 keys, SHA-256 signatures.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    let privateKey: P256.Signing.PrivateKey

    /// A new self-signed CA.
    public static func create(
        commonName: String = "Parley development CA",
        validFor days: Int = 3650,
        now: Date = Date()
    ) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("parley")
            CommonName(commonName)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            },
            issuerPrivateKey: .init(key)
        )
        return CertificateAuthority(certificate: certificate, privateKey: key)
    }

    /// Loads a CA from its PEM certificate and PEM private key.
    public init(certificatePEM: String, privateKeyPEM: String) throws {
        self.certificate = try Certificate(pemEncoded: certificatePEM)
        self.privateKey = try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
    }

    init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    public var certificatePEM: String {
        get throws { try certificate.serializeAsPEM().pemString }
    }

    public var privateKeyPEM: String { privateKey.pemRepresentation }

    /// Issues a client certificate: CN = `principal`, one O per role.
    public func issueClient(
        principal: String,
        roles: [Role],
        notValidBefore: Date = Date().addingTimeInterval(-300),
        notValidAfter: Date = Date().addingTimeInterval(365 * 86_400)
    ) throws -> IssuedCertificate {
        guard !principal.isEmpty else { throw PKIError(message: "a client certificate needs a principal (CN)") }
        let subject = try DistinguishedName {
            for role in roles { OrganizationName(role.name) }
            CommonName(principal)
        }
        return try issue(
            subject: subject,
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter,
            usage: .clientAuth,
            alternativeNames: []
        )
    }

    /// Issues a server certificate for the given DNS names and IP addresses.
    public func issueServer(
        commonName: String = "parleyd",
        dnsNames: [String] = ["localhost"],
        ipAddresses: [String] = ["127.0.0.1", "::1"],
        validFor days: Int = 825,
        now: Date = Date()
    ) throws -> IssuedCertificate {
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            guard let bytes = IPAddressBytes.parse(address) else {
                throw PKIError(message: "not an IP address: \(address)")
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        return try issue(
            subject: try DistinguishedName { CommonName(commonName) },
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            usage: .serverAuth,
            alternativeNames: names
        )
    }

    private func issue(
        subject: DistinguishedName,
        notValidBefore: Date,
        notValidAfter: Date,
        usage: ExtendedKeyUsage.Usage,
        alternativeNames: [GeneralName]
    ) throws -> IssuedCertificate {
        let key = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: .init(key.publicKey),
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter,
            issuer: self.certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([usage])
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: try? self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
                if !alternativeNames.isEmpty { SubjectAlternativeNames(alternativeNames) }
            },
            issuerPrivateKey: .init(privateKey)
        )
        return IssuedCertificate(certificate: certificate, privateKey: key)
    }
}

/// A certificate with the private key that goes with it.
public struct IssuedCertificate: Sendable {
    public let certificate: Certificate
    let privateKey: P256.Signing.PrivateKey

    public var certificatePEM: String {
        get throws { try certificate.serializeAsPEM().pemString }
    }

    public var privateKeyPEM: String { privateKey.pemRepresentation }

    /// The certificate's serial, normalized as ``CertificateSerial`` does.
    public var serial: String { CertificateSerial.normalize(bytes: Array(certificate.serialNumber.bytes)) }
}

enum IPAddressBytes {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
