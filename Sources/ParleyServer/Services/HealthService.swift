import Foundation
import ParleyPKI
import ParleyProtos
import ParleyWire

/// `parley.v1.Health`: any authenticated caller may ask.
public struct HealthService: RegistrableService {
    public static let check = MethodPath(service: "parley.v1.Health", method: "Check")
    public static let watch = MethodPath(service: "parley.v1.Health", method: "Watch")

    let servingState: ServingState
    let version: String
    let started: ContinuousClock.Instant

    public init(servingState: ServingState, version: String, started: ContinuousClock.Instant = .now) {
        self.servingState = servingState
        self.version = version
        self.started = started
    }

    public func registerMethods(with router: inout Router) {
        let everyone: Set<Role> = []  // any authenticated caller
        router.registerUnary(Self.check, roles: everyone) {
            (request: Parley_V1_HealthCheckRequest, context: CallContext) -> Parley_V1_HealthCheckResponse in
            var response = self.response(for: self.servingState.status, context: context)
            response.payload = request.payload
            return response
        }
        router.registerServerStreaming(Self.watch, roles: everyone) {
            (request: Parley_V1_HealthWatchRequest, context: CallContext, writer: ResponseStreamWriter<Parley_V1_HealthCheckResponse>) in
            let heartbeat: Duration? = request.intervalMs == 0 ? nil : .milliseconds(max(request.intervalMs, 10))
            for await status in self.servingState.updates(heartbeat: heartbeat) {
                try await writer.send(self.response(for: status, context: context))
            }
        }
    }

    private func response(for status: ServingState.Status, context: CallContext) -> Parley_V1_HealthCheckResponse {
        var response = Parley_V1_HealthCheckResponse()
        response.status = status == .serving ? .serving : .draining
        response.version = version
        let uptime = ContinuousClock.now - started
        response.uptimeMs = UInt64(max(0, uptime.components.seconds * 1000 + uptime.components.attoseconds / 1_000_000_000_000_000))
        response.principal = context.peer.principal
        response.roles = context.peer.roles.sorted().map(\.name)
        return response
    }
}
