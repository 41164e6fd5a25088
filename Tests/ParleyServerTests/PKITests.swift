import Foundation
import ParleyPKI
import Testing

@Suite("Certificates")
struct PKITests {
    @Test("serials normalize to lower-case hex; anything else is refused", arguments: [
        ("0A:1B:2c", "0a1b2c"), ("0x00ff", "ff"), ("abc", "0abc"), ("00", "00"),
        ("ｆｆ", nil), ("xyz", nil), ("", nil), ("12 34", "1234"),
    ] as [(String, String?)])
    func serials(_ input: String, _ expected: String?) {
        #expect(CertificateSerial.normalize(text: input) == expected)
    }

    @Test("identity: CN is the principal, each O a role")
    func identity() throws {
        let authority = try CertificateAuthority.create()
        let issued = try authority.issueClient(principal: "acme-travel", roles: [.agent, .merchant])
        let identity = try PeerIdentity(certificate: issued.certificate)
        #expect(identity.principal == "acme-travel")
        #expect(identity.roles == [.agent, .merchant])
        #expect(identity.serial == issued.serial)
    }

    @Test("revoking appends on its own line even when the file lacks a final newline")
    func revocationFile() throws {
        let directory = CertificateDirectory(path: FileManager.default.temporaryDirectory.appendingPathComponent("pki-\(UUID().uuidString)").path)
        defer { try? FileManager.default.removeItem(at: directory.url) }
        try directory.initialize()
        try Data("aa # hand-edited, no newline".utf8).write(to: directory.revocationList)
        #expect(try directory.revoke(serial: "BB", reason: "lost laptop"))
        #expect(try !directory.revoke(serial: "bb", reason: "again"))
        #expect(try RevocationFile.read(directory.revocationList) == ["aa", "bb"])
        let key = try FileManager.default.attributesOfItem(atPath: directory.clientPrivateKey("admin").path)
        #expect((key[.posixPermissions] as? Int) == 0o600)
    }

    @Test("a directory with part of a CA is not silently replaced")
    func partialDirectory() throws {
        let directory = CertificateDirectory(path: FileManager.default.temporaryDirectory.appendingPathComponent("pki-\(UUID().uuidString)").path)
        defer { try? FileManager.default.removeItem(at: directory.url) }
        try directory.initialize()
        try FileManager.default.removeItem(at: directory.serverCertificate)
        #expect(throws: PKIError.self) { try directory.initialize() }
        #expect(FileManager.default.fileExists(atPath: directory.caCertificate.path))
    }

    @Test("a malformed revocation file names the line")
    func malformedRevocationFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("revoked-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("aa\nnot-a-serial\n".utf8).write(to: file)
        do {
            _ = try RevocationFile.read(file)
            Issue.record("expected an error")
        } catch let error as PKIError {
            #expect(error.message.contains(":2:"))
        }
    }
}
