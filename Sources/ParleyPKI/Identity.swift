public import X509
import SwiftASN1

/// A caller's role, carried as an `O` (organization) value of its client
/// certificate's subject (DESIGN §3).
public struct Role: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let name: String

    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }

    /// Buys on behalf of buyers: travel agencies, 1-800 operators, storefronts.
    public static let agent: Role = "agent"
    /// Sells: catalog, inventory, rules.
    public static let merchant: Role = "merchant"
    /// Bids for improved terms.
    public static let supplier: Role = "supplier"
    /// Sends upsell opportunities.
    public static let affiliate: Role = "affiliate"
    /// Owns upsell offers.
    public static let upseller: Role = "upseller"
    /// Configuration; sees everything.
    public static let admin: Role = "admin"

    /// The roles Parley knows. Certificates may carry others; they grant nothing.
    public static let known: [Role] = [.agent, .merchant, .supplier, .affiliate, .upseller, .admin]

    public var description: String { name }
    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.name < rhs.name }
}

/// Who is calling: read from a verified client certificate.
///
/// The principal is the subject's common name (`acme-travel`); each
/// organization value is a role, as Kubernetes reads client certificates.
public struct PeerIdentity: Hashable, Sendable, CustomStringConvertible {
    /// The certificate subject's CN.
    public let principal: String
    /// The certificate subject's O values.
    public let roles: Set<Role>
    /// The certificate's serial number, normalized (see ``CertificateSerial``).
    public let serial: String

    public init(principal: String, roles: Set<Role>, serial: String) {
        self.principal = principal
        self.roles = roles
        self.serial = serial
    }

    /// Reads the identity of a DER-encoded certificate.
    public init(derEncoded bytes: [UInt8]) throws {
        try self.init(certificate: Certificate(derEncoded: bytes))
    }

    public init(certificate: Certificate) throws {
        var commonName: String?
        var roles = Set<Role>()
        for rdn in certificate.subject {
            for attribute in rdn {
                switch attribute.type {
                case .RDNAttributeType.commonName:
                    commonName = String(attribute.value)
                case .RDNAttributeType.organizationName:
                    if let value = String(attribute.value) { roles.insert(Role(value)) }
                default:
                    break
                }
            }
        }
        guard let commonName, !commonName.isEmpty else {
            throw PKIError(message: "client certificate subject has no common name (CN)")
        }
        self.init(
            principal: commonName,
            roles: roles,
            serial: CertificateSerial.normalize(bytes: Array(certificate.serialNumber.bytes))
        )
    }

    public func has(anyOf allowed: Set<Role>) -> Bool { !roles.isDisjoint(with: allowed) }

    public var description: String {
        "\(principal) [\(roles.sorted().map(\.name).joined(separator: ","))]"
    }
}

/// Certificate serial numbers in one canonical text form: lower-case
/// hexadecimal without separators or leading zero bytes.
public enum CertificateSerial {
    public static func normalize(bytes: [UInt8]) -> String {
        let trimmed = bytes.drop(while: { $0 == 0 })
        if trimmed.isEmpty { return "00" }
        return trimmed.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    /// Parses `0A:1B:...`, `0a1b...` or `0x0a1b`; nil when the text is not hexadecimal.
    public static func normalize(text: String) -> String? {
        var hex = text.lowercased().filter { $0 != ":" && !$0.isWhitespace }
        if hex.hasPrefix("0x") { hex.removeFirst(2) }
        guard !hex.isEmpty, hex.count <= 64, hex.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return nil }
        if hex.count % 2 == 1 { hex = "0" + hex }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return normalize(bytes: bytes)
    }
}

/// A failure to read, create or use certificates and keys.
public struct PKIError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
