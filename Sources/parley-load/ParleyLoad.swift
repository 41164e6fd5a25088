import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import ParleyClient
import ParleyWire

/// `parley-load`: drives one scenario against parleyd and reports throughput,
/// errors by status and an HDR latency histogram.
///
/// Started by ``Entry``, which first makes NIO the global executor.
struct ParleyLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-load",
        abstract: "Load generator for parleyd.",
        discussion: """
            Closed loop (the default): --in-flight workers each make one call after another, \
            spread over --connections connections.

            Open loop (--rate): calls start on a fixed schedule whether or not earlier ones have ended, \
            and latency is measured from each call's due time, so a stall shows up in the latency \
            instead of slowing the load down (no coordinated omission).

            Warmup calls are made but not recorded. Calls still in flight --drain seconds after the \
            measured window are cancelled and counted as 'unfinished'.

            In the closed loop, a worker whose call fails with UNAVAILABLE (the daemon is down or \
            refusing connections) waits 10 ms before its next call, and the run goes on to its end.

            Exit status: 0 when the run completed, even with some errors; 1 when no call succeeded \
            or the daemon could not be reached.

            Scenarios:
            \(ScenarioCatalog.listing)
            """
    )

    @OptionGroup(title: "Connection")
    var connection: ConnectionOptions

    @Option(help: ArgumentHelp("The scenario: \(ScenarioCatalog.names).", valueName: "name"))
    var scenario = "health"

    @Option(help: ArgumentHelp("Payload bytes per request, for scenarios that carry one.", valueName: "n"))
    var payloadBytes = 256

    @Option(
        help: ArgumentHelp(
            "Connections to spread calls over (default: one per core, that is per event loop of this process; each call takes a connection on its own loop).",
            valueName: "c"
        )
    )
    var connections: Int?

    @Option(help: ArgumentHelp("Closed loop: concurrent workers, each with one call in flight (default: 64).", valueName: "n"))
    var inFlight: Int?

    @Option(help: ArgumentHelp("Open loop: calls started per second, on a fixed schedule.", valueName: "r"))
    var rate: Double?

    @Option(help: ArgumentHelp("Open loop: calls in flight past which new calls are not sent but counted as 'overloaded'.", valueName: "n"))
    var maxOutstanding = 10_000

    @Option(help: ArgumentHelp("Open loop: tasks sharing the schedule (default: the number of cores).", valueName: "n"))
    var lanes: Int?

    @Option(help: ArgumentHelp("Seconds measured, after the warmup.", valueName: "seconds"))
    var duration: Double = 10

    @Option(help: ArgumentHelp("Seconds of calls made but not recorded, first.", valueName: "seconds"))
    var warmup: Double = 2

    @Option(help: ArgumentHelp("Each call's deadline, in seconds.", valueName: "seconds"))
    var timeout: Double = 5

    @Option(help: ArgumentHelp("Seconds allowed, after the measured window, for calls in flight to end.", valueName: "seconds"))
    var drain: Double = 2

    @Flag(help: "Print the report as one JSON object (settings included) instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Also write the latency distribution to this file in HdrHistogram's .hgrm format (milliseconds).", valueName: "file"))
    var hgrm: String?

    @Option(help: ArgumentHelp(
        "Append to this file (created if missing, never truncated) one line per outcome the server acknowledged, as each reply arrives: 'held <id>', then 'confirmed <id>' or 'released <id>' (reserve); 'captured <order-id> <authorization-id>' (capture); other scenarios write nothing.",
        valueName: "file"
    ))
    var ackLog: String?

    @Flag(inversion: .prefixedNo, help: "Show a progress line on stderr once a second.")
    var progress = true

    @OptionGroup(title: "Reserve scenario")
    var reserve: ReserveOptions

    @OptionGroup(title: "Order scenarios")
    var orders: OrderOptions

    static let defaultInFlight = 64
    /// Room for the frame header and the rest of the request in a 4 MiB frame.
    static let maxPayloadBytes = WireProtocol.defaultMaxFrameBytes - 64 * 1024

    func validate() throws {
        guard ScenarioCatalog.type(named: scenario) != nil else {
            throw ValidationError(ScenarioCatalog.unknown(scenario).message)
        }
        guard (0...Self.maxPayloadBytes).contains(payloadBytes) else {
            throw ValidationError("--payload-bytes must be between 0 and \(Self.maxPayloadBytes)")
        }
        guard (connections ?? 1) >= 1 else { throw ValidationError("--connections must be at least 1") }
        if let rate {
            guard rate.isFinite, rate > 0 else { throw ValidationError("--rate must be a positive number of calls per second") }
            guard inFlight == nil else {
                throw ValidationError("--in-flight is for the closed loop; with --rate, bound concurrency with --max-outstanding")
            }
            guard maxOutstanding >= 1 else { throw ValidationError("--max-outstanding must be at least 1") }
            if let lanes, lanes < 1 { throw ValidationError("--lanes must be at least 1") }
        } else {
            if let inFlight, inFlight < 1 { throw ValidationError("--in-flight must be at least 1") }
            if lanes != nil { throw ValidationError("--lanes is for the open loop (--rate)") }
        }
        guard duration.isFinite, duration > 0 else { throw ValidationError("--duration must be positive") }
        guard warmup.isFinite, warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard timeout.isFinite, timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard drain.isFinite, drain >= 0 else { throw ValidationError("--drain must not be negative") }
        if scenario == ReserveScenario.name {
            try reserve.check()
        } else {
            try Self.refuse(reserve.given, outside: ReserveScenario.name)
        }
        if isOrderScenario {
            try orders.check()
        } else {
            try Self.refuse(orders.given, outside: ScenarioCatalog.orderScenarios.map { $0.name }.joined(separator: " or "))
        }
    }

    /// Whether the scenario is one of those that read the order options.
    private var isOrderScenario: Bool {
        ScenarioCatalog.orderScenarios.contains { $0.name == scenario }
    }

    /// A scenario's options given with another scenario.
    private static func refuse(_ given: [String], outside scenarios: String) throws {
        guard !given.isEmpty else { return }
        throw ValidationError(
            "\(given.joined(separator: ", ")) \(given.count == 1 ? "applies" : "apply") only to --scenario \(scenarios)"
        )
    }

    /// The settings, with the defaults that depend on the loop filled in.
    var settings: LoadSettings {
        let open = rate != nil
        return LoadSettings(
            scenario: scenario,
            server: connection.server,
            loop: open ? .open : .closed,
            connections: connections ?? EventLoopPlacement.loops.count,
            inFlight: open ? nil : (inFlight ?? Self.defaultInFlight),
            rate: rate,
            maxOutstanding: open ? maxOutstanding : nil,
            lanes: open ? (lanes ?? System.coreCount) : nil,
            payloadBytes: payloadBytes,
            warmupSeconds: warmup,
            durationSeconds: duration,
            timeoutSeconds: timeout,
            drainSeconds: drain,
            ackLog: ackLog,
            reserve: scenario == ReserveScenario.name ? reserve.settings : nil,
            orders: isOrderScenario ? orders.settings : nil
        )
    }

    func run() async throws {
        let settings = self.settings
        let scenario: any Scenario
        let client: ParleyClient
        let ackLog: AckLog?
        do {
            ackLog = try self.ackLog.map { try AckLog(path: $0) }
            scenario = try ScenarioCatalog.make(
                named: settings.scenario,
                options: ScenarioOptions(payloadBytes: payloadBytes, reserve: reserve.settings, orders: orders.settings, ackLog: ackLog)
            )
            let configuration = try connection.clientConfiguration(connections: settings.connections, callTimeout: .seconds(timeout))
            client = try ParleyClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
        } catch let error as LoadFailure {
            throw Self.fail(error.message)
        } catch {
            let files = connection.files
            throw Self.fail("cannot load the TLS files (\(files.certificate), \(files.privateKey), \(files.ca)): \(error)")
        }
        // Every call has ended once `measure` returns: nothing appends after this.
        defer { ackLog?.close() }
        let part = try await measure(scenario, client: client, settings: settings)
        try output(Report(settings: settings, startedAt: part.startedAt, part: part.part), part: part.part)
        if part.part.succeeded == 0 {
            throw Self.fail(part.part.failed == 0 ? "no call completed" : "every call failed")
        }
    }

    /// Connects, prepares the scenario, runs it and closes the client.
    private func measure<S: Scenario>(_ scenario: S, client: ParleyClient, settings: LoadSettings) async throws
        -> (part: RunPart, startedAt: Date)
    {
        let options = CallOptions(timeout: .seconds(settings.timeoutSeconds))
        do {
            try await Connect.open(client, timeout: .seconds(settings.timeoutSeconds) + .seconds(10))
            try await scenario.prepare(client: client, options: options)
        } catch {
            await client.close()
            throw Self.fail((error as? RPCError)?.message ?? "\(error)")
        }
        if progress {
            StandardError.write("parley-load: \(settings.scenario) against \(settings.server), \(settings.loop) loop; warmup \(Format.seconds(settings.warmupSeconds)), then \(Format.seconds(settings.durationSeconds)) measured\n")
        }
        let startedAt = Date()
        let run = LoadRun(scenario: scenario, client: client, settings: settings, options: options)
        let part = await run.run(showProgress: progress)
        await client.close()
        return (part, startedAt)
    }

    private func output(_ report: Report, part: RunPart) throws {
        if json {
            do {
                print(try report.json())
            } catch {
                throw Self.fail("cannot encode the report: \(error)")
            }
        } else {
            print(report.text)
        }
        if let hgrm {
            do {
                try part.writePercentileDistribution(to: hgrm)
            } catch {
                throw Self.fail("cannot write \(hgrm): \(error)")
            }
        }
    }

    /// Prints `parley-load: message` on stderr; the error to throw to exit with status 1.
    private static func fail(_ message: String) -> ExitCode {
        StandardError.write("parley-load: \(message)\n")
        return ExitCode.failure
    }
}

/// A reason the run cannot start or did not succeed, shown as `parley-load: <message>`.
struct LoadFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
