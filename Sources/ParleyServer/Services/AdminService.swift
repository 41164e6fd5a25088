import Foundation
import Logging
import ParleyPKI
import ParleyProtos
import ParleyStore
import ParleyWire

/// `parley.v1.Admin`: daemon administration, role `admin` only.
public struct AdminService: RegistrableService {
    public static let revokeCertificate = MethodPath(service: "parley.v1.Admin", method: "RevokeCertificate")
    public static let listRevocations = MethodPath(service: "parley.v1.Admin", method: "ListRevocations")

    let revocations: RevocationList
    let store: RevocationStore
    let clock: any WallClock

    public init(revocations: RevocationList, store: RevocationStore, clock: any WallClock) {
        self.revocations = revocations
        self.store = store
        self.clock = clock
    }

    /// Loads the durable revocations into the list. Call once at start-up.
    public func loadRevocations() throws {
        revocations.loadDatabase(try store.all())
    }

    public func registerMethods(with router: inout Router) {
        router.registerUnary(Self.revokeCertificate, roles: [.admin], mutating: true) {
            (request: Parley_V1_RevokeCertificateRequest, context: CallContext) -> Parley_V1_RevokeCertificateResponse in
            guard let serial = CertificateSerial.normalize(text: request.serial) else {
                throw RPCError.invalidArgument(field: "serial", "must be a hexadecimal certificate serial number")
            }
            guard request.reason.count <= 1024 else {
                throw RPCError.invalidArgument(field: "reason", "at most 1024 characters")
            }
            let (entry, isNew) = try await self.store.revoke(
                RevocationList.Entry(
                    serial: serial,
                    reason: request.reason,
                    revokedBy: context.peer.principal,
                    revokedAtMilliseconds: self.clock.nowMilliseconds,
                    fromFile: false
                )
            )
            if isNew {
                self.revocations.add(entry)
                context.logger.notice("certificate revoked", metadata: ["serial": "\(serial)", "by": "\(context.peer.principal)"])
            }
            var response = Parley_V1_RevokeCertificateResponse()
            response.revocation = Self.wire(entry)
            response.newlyRevoked = isNew
            return response
        }
        router.registerUnary(Self.listRevocations, roles: [.admin]) {
            (_: Parley_V1_ListRevocationsRequest, _: CallContext) -> Parley_V1_ListRevocationsResponse in
            var response = Parley_V1_ListRevocationsResponse()
            response.revocations = self.revocations.entries.map(Self.wire)
            return response
        }
    }

    static func wire(_ entry: RevocationList.Entry) -> Parley_V1_Revocation {
        var revocation = Parley_V1_Revocation()
        revocation.serial = entry.serial
        revocation.reason = entry.reason
        revocation.revokedBy = entry.revokedBy
        revocation.revokedAtMs = entry.revokedAtMilliseconds
        revocation.source = entry.fromFile ? "file" : "database"
        return revocation
    }
}
