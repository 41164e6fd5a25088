import Foundation
import ParleyClient
import ParleyPKI
import ParleyProtos
import ParleyServer
import ParleyTesting
import ParleyWire
import Testing

@Suite("Mutual TLS")
struct MutualTLSTests {
    enum Credential: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case valid, noCertificate, otherCA, expired, notYetValid, revoked, missingRole
        var testDescription: String { rawValue }

        var expected: RPCError.Code {
            switch self {
            case .valid: .ok
            case .missingRole: .permissionDenied
            default: .unauthenticated
            }
        }
    }

    @Test("each kind of client certificate is refused the right way", arguments: Credential.allCases)
    func matrix(_ credential: Credential) async throws {
        try await withTestDaemon { daemon in
            let day: TimeInterval = 86_400
            let pki = daemon.pki
            let credentials: TestPKI.Credentials?
            switch credential {
            case .valid, .missingRole:
                credentials = try pki.client("acme-travel", roles: [.agent])
            case .noCertificate:
                credentials = nil
            case .otherCA:
                credentials = try pki.client("mallory", roles: [.admin], issuer: CertificateAuthority.create(commonName: "Another CA"))
            case .expired:
                credentials = try pki.client("old", roles: [.agent], notValidBefore: Date().addingTimeInterval(-2 * day), notValidAfter: Date().addingTimeInterval(-day))
            case .notYetValid:
                credentials = try pki.client("early", roles: [.agent], notValidBefore: Date().addingTimeInterval(day), notValidAfter: Date().addingTimeInterval(2 * day))
            case .revoked:
                let revoked = try pki.client("gone", roles: [.agent])
                try await daemon.client("ops", roles: [.admin]).using { admin in
                    var request = Parley_V1_RevokeCertificateRequest()
                    request.serial = revoked.serial
                    request.reason = "key compromise"
                    _ = try await admin.unary(AdminService.revokeCertificate, request, as: Parley_V1_RevokeCertificateResponse.self)
                }
                credentials = revoked
            }
            let method = credential == .missingRole ? AdminService.listRevocations : HealthService.check
            let client = try ParleyClient(configuration: daemon.clientConfiguration(credentials))
            let code: RPCError.Code
            var message = ""
            do {
                if method == HealthService.check {
                    let response = try await client.unary(method, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self)
                    #expect(response.principal == "acme-travel")
                    #expect(response.roles == ["agent"])
                    #expect(response.status == .serving)
                } else {
                    _ = try await client.unary(method, Parley_V1_ListRevocationsRequest(), as: Parley_V1_ListRevocationsResponse.self)
                }
                code = .ok
            } catch let error as RPCError {
                code = error.code
                message = error.message
            }
            await client.close()
            #expect(code == credential.expected, "\(credential): \(message)")
            if credential == .revoked { #expect(message.contains("revoked")) }
            if credential == .missingRole { #expect(message.contains("admin")) }
        }
    }

    @Test("revoking a certificate cuts its open connection at once")
    func revocationCutsExistingConnections() async throws {
        try await withTestDaemon { daemon in
            let victim = try daemon.pki.client("soon-gone", roles: [.agent])
            let client = try ParleyClient(configuration: daemon.clientConfiguration(victim))
            _ = try await client.unary(HealthService.check, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self)
            try await daemon.client("ops", roles: [.admin]).using { admin in
                var request = Parley_V1_RevokeCertificateRequest()
                request.serial = victim.serial
                let response = try await admin.unary(AdminService.revokeCertificate, request, as: Parley_V1_RevokeCertificateResponse.self)
                #expect(response.newlyRevoked)
                let again = try await admin.unary(AdminService.revokeCertificate, request, as: Parley_V1_RevokeCertificateResponse.self)
                #expect(!again.newlyRevoked)
                let list = try await admin.unary(AdminService.listRevocations, Parley_V1_ListRevocationsRequest(), as: Parley_V1_ListRevocationsResponse.self)
                #expect(list.revocations.map(\.serial).contains(victim.serial))
            }
            await #expect(throws: RPCError.self) {
                _ = try await client.unary(HealthService.check, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self)
            }
            await client.close()
        }
    }

    @Test("a malformed serial is refused with the field named")
    func badSerial() async throws {
        try await withTestDaemon { daemon in
            try await daemon.client("ops", roles: [.admin]).using { admin in
                var request = Parley_V1_RevokeCertificateRequest()
                request.serial = "not-hex!"
                do {
                    _ = try await admin.unary(AdminService.revokeCertificate, request, as: Parley_V1_RevokeCertificateResponse.self)
                    Issue.record("expected INVALID_ARGUMENT")
                } catch let error as RPCError {
                    #expect(error.code == .invalidArgument)
                    #expect(error.violations.map(\.field) == ["serial"])
                }
            }
        }
    }
}
