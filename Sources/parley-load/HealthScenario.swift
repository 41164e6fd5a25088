import Foundation
import ParleyClient
import ParleyProtos
import ParleyWire

/// `parley.v1.Health/Check` with an opaque payload that the server echoes:
/// the cheapest authenticated round trip, measuring the transport, TLS,
/// framing and routing without touching storage.
struct HealthScenario: Scenario {
    static let name = "health"
    static let summary = "parley.v1.Health/Check carrying --payload-bytes of payload, which must come back intact in length"

    /// `HealthService.check` (ParleyServer is not a dependency of this tool).
    static let method = MethodPath(service: "parley.v1.Health", method: "Check")

    private let request: Parley_V1_HealthCheckRequest

    init(options: ScenarioOptions) {
        var request = Parley_V1_HealthCheckRequest()
        request.payload = Data(repeating: 0x5A, count: options.payloadBytes)
        self.request = request
    }

    func call(client: ParleyClient, sequence: UInt64, options: CallOptions) async throws {
        let response = try await client.unary(Self.method, request, as: Parley_V1_HealthCheckResponse.self, options: options)
        guard response.payload.count == request.payload.count else {
            throw ScenarioCheckFailure("sent \(request.payload.count) payload bytes, got \(response.payload.count) back")
        }
    }
}
