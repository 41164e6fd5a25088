import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ParleyDaemon
import ParleyPKI
import ParleyServer

/// `parleyd`: the Parley daemon. Flags override the configuration file, which
/// overrides the embedded defaults (docs/operations.md).
struct Parleyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parleyd",
        abstract: "The Parley commerce negotiation daemon.",
        discussion: "With no arguments: serves on 127.0.0.1:7443 from ./.parley/, creating development certificates under certs/dev/."
    )

    @Option(help: "JSON configuration file (docs/operations.md).") var config: String?
    @Option(help: "Address to listen on.") var host: String?
    @Option(help: "TCP port (0 picks a free one).") var port: Int?
    @Option(name: .customLong("data-dir"), help: "Directory of the SQLite database.") var dataDirectory: String?
    @Option(name: .customLong("certs-dir"), help: "Development certificate directory (created when missing).") var certificateDirectory: String?
    @Option(name: .customLong("tls-cert"), help: "Server certificate chain (PEM).") var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: "Server private key (PEM).") var tlsKey: String?
    @Option(name: .customLong("client-ca"), help: "CA that client certificates must chain to (PEM).") var clientCA: String?
    @Option(name: .customLong("revocation-file"), help: "Revoked client serials, one per line; reread on SIGHUP.") var revocationFile: String?
    @Flag(name: .customLong("allow-tls12"), help: "Accept TLS 1.2 as well as 1.3.") var allowTLS12 = false
    @Option(name: .customLong("max-frame-bytes"), help: "Largest frame accepted (default 4194304).") var maxFrameBytes: Int?
    @Option(name: .customLong("max-concurrent-calls"), help: "Calls at once per connection (default 256).") var maxConcurrentCalls: Int?
    @Option(name: .customLong("shutdown-grace-ms"), help: "Time in-flight calls get on shutdown (default 30000).") var shutdownGraceMilliseconds: Int?
    @Option(name: .customLong("metrics-host"), help: "Address of the metrics endpoint.") var metricsHost: String?
    @Option(name: .customLong("metrics-port"), help: "Port of the metrics endpoint (default 9464).") var metricsPort: Int?
    @Flag(name: .customLong("no-metrics"), help: "Do not serve /metrics and /healthz.") var noMetrics = false
    @Option(name: .customLong("payment-latency-ms"), help: "Time the payment processor simulator takes per authorization (default 0, at most 60000).")
    var paymentLatencyMilliseconds: Int?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String?
    @Flag(
        help: "Load a demo data set into an empty database: demo-merchant's warehouse stock and Orders set-up, a sample coupon and order."
    ) var demo = false

    func run() async throws {
        var configuration = DaemonConfiguration.defaults
        if let config { try configuration.apply(configurationFile: config) }
        try applyFlags(to: &configuration)

        let logLevel = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "parleyd")

        if configuration.usesDevelopmentCertificates {
            let directory = CertificateDirectory(path: configuration.certificateDirectory)
            if try directory.initialize() {
                logger.notice("created a development CA and certificates", metadata: ["directory": "\(directory.url.path)"])
            }
            if demo && !FileManager.default.fileExists(atPath: directory.clientCertificate(DemoData.merchant).path) {
                _ = try directory.issueClient(name: DemoData.merchant, principal: DemoData.merchant, roles: [.merchant])
            }
        }

        FileDescriptorLimit.prepare(maxConnections: configuration.server.limits.maxConnections, logger: logger)
        let daemon = try Daemon(configuration: configuration, logger: logger)
        if demo {
            // The sample coupon and order go beside the client certificates
            // that use them (or into the data directory with production TLS).
            let files = configuration.usesDevelopmentCertificates ? configuration.certificateDirectory : configuration.dataDirectory
            if let loaded = try await DemoData.load(into: daemon, logger: logger, filesDirectory: URL(fileURLWithPath: files)),
                let orderFile = loaded.orderFile, let couponFile = loaded.couponFile {
                logger.notice(
                    "demo coupon (10% off at \(DemoData.merchant), 30 days) in \(couponFile.path); an order that uses it: parley order quote \(orderFile.path)"
                )
            }
        }
        let server = daemon.server
        let settings = configuration
        Task {
            guard let address = try? await server.localAddress() else { return }
            var howTo = "parley health --server \(settings.server.host):\(address.port ?? settings.server.port)"
            if settings.usesDevelopmentCertificates {
                howTo += " --certs-dir \(settings.certificateDirectory)"
            }
            logger.notice(
                "parleyd \(Daemon.version) ready; connect with: \(howTo)",
                metadata: ["database": "\(settings.databasePath)", "pid": "\(getpid())"]
            )
        }
        try await daemon.run()
        logger.notice("parleyd stopped")
    }

    private func applyFlags(to configuration: inout DaemonConfiguration) throws {
        if let host { configuration.server.host = host }
        if let port { configuration.server.port = port }
        if let dataDirectory { configuration.dataDirectory = dataDirectory }
        if let certificateDirectory { configuration.useDevelopmentCertificates(in: certificateDirectory) }
        if tlsCertificate != nil || tlsKey != nil || clientCA != nil {
            guard let tlsCertificate, let tlsKey, let clientCA else {
                throw ValidationError("--tls-cert, --tls-key and --client-ca go together")
            }
            configuration.server.tls.certificateChainPath = tlsCertificate
            configuration.server.tls.privateKeyPath = tlsKey
            configuration.server.tls.clientCAPath = clientCA
            configuration.usesDevelopmentCertificates = false
        }
        if let revocationFile { configuration.server.tls.revocationFilePath = revocationFile }
        if allowTLS12 { configuration.server.tls.allowTLS12 = true }
        if let maxFrameBytes { configuration.server.limits.maxFrameBytes = maxFrameBytes }
        if let maxConcurrentCalls { configuration.server.limits.maxConcurrentCalls = maxConcurrentCalls }
        if let shutdownGraceMilliseconds { configuration.server.timeouts.shutdownGrace = .milliseconds(shutdownGraceMilliseconds) }
        if let paymentLatencyMilliseconds {
            guard (0...60_000).contains(paymentLatencyMilliseconds) else {
                throw ValidationError("--payment-latency-ms: 0 to 60000")
            }
            configuration.paymentLatency = .milliseconds(paymentLatencyMilliseconds)
        }
        if let metricsHost { configuration.metrics.host = metricsHost }
        if let metricsPort { configuration.metrics.port = metricsPort }
        if noMetrics { configuration.metrics.enabled = false }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
            }
            configuration.logLevel = level
        }
        try configuration.validate()
    }
}

/// Installs SwiftNIO's event loops as Swift Concurrency's global executor
/// before anything async runs, so that call handlers run on the event loop
/// that read their frame (no thread hop per call), then runs the command.
@main
enum Main {
    static func main() {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        Task {
            await Parleyd.main()
            exit(0)
        }
        dispatchMain()
    }
}
