import ArgumentParser
import Foundation
import ParleyClient
import ParleyProtos
import ParleyWire

extension Parley {
    /// `parley health [--watch]`.
    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Is the daemon serving, and who does it think you are.")

        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Stream status changes until the daemon stops or Ctrl-C.") var watch = false
        @Option(help: "With --watch: also repeat the status every N milliseconds.") var intervalMs: UInt32 = 0
        @Flag(help: "Print JSON.") var json = false

        struct Report: Encodable {
            let status: String
            let version: String
            let uptimeMs: UInt64
            let principal: String
            let roles: [String]
            let roundTripMicroseconds: Int?
        }

        func run() async throws {
            try await withClient(connection) { client in
                if watch {
                    var request = Parley_V1_HealthWatchRequest()
                    request.intervalMs = intervalMs
                    var options = CallOptions(timeout: .seconds(365 * 86_400))
                    options.metadata[MetadataKey.requestID] = "parley-health-watch"
                    for try await response in client.serverStreaming(
                        MethodPath(service: "parley.v1.Health", method: "Watch"),
                        request,
                        as: Parley_V1_HealthCheckResponse.self,
                        options: options
                    ) {
                        try show(response, roundTrip: nil)
                    }
                } else {
                    let started = ContinuousClock.now
                    let response = try await client.unary(
                        MethodPath(service: "parley.v1.Health", method: "Check"),
                        Parley_V1_HealthCheckRequest(),
                        as: Parley_V1_HealthCheckResponse.self
                    )
                    try show(response, roundTrip: ContinuousClock.now - started)
                }
            }
        }

        private func show(_ response: Parley_V1_HealthCheckResponse, roundTrip: Duration?) throws {
            let status = response.status == .serving ? "SERVING" : response.status == .draining ? "DRAINING" : "UNKNOWN"
            let micros = roundTrip.map { Int($0.components.seconds * 1_000_000 + $0.components.attoseconds / 1_000_000_000_000) }
            if json {
                try printJSON(
                    Report(
                        status: status,
                        version: response.version,
                        uptimeMs: response.uptimeMs,
                        principal: response.principal,
                        roles: response.roles,
                        roundTripMicroseconds: micros
                    )
                )
            } else {
                var line = "\(status)  parleyd \(response.version), up \(formatUptime(response.uptimeMs)); you are \(response.principal) [\(response.roles.joined(separator: ", "))]"
                if let micros { line += "; round trip \(micros) µs" }
                print(line)
            }
        }
    }
}

func formatUptime(_ milliseconds: UInt64) -> String {
    let seconds = milliseconds / 1000
    if seconds < 60 { return "\(seconds)s" }
    if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
    return "\(seconds / 3600)h\((seconds % 3600) / 60)m"
}
