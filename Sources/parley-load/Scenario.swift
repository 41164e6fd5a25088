import ParleyClient

/// One kind of call the load generator makes.
///
/// A scenario is made once per run from the command line's settings and then
/// shared by every worker, so it must be `Sendable` and should precompute
/// whatever it can (requests, keys). To add one, write a type conforming to
/// `Scenario` and list it in ``ScenarioCatalog/all``.
protocol Scenario: Sendable {
    /// The name given to `--scenario`.
    static var name: String { get }
    /// One line for `--help`.
    static var summary: String { get }

    init(options: ScenarioOptions) throws

    /// Called once after connecting and before the first timed call, to
    /// create what the calls need (products, stock). Does nothing by default.
    func prepare(client: ParleyClient, options: CallOptions) async throws

    /// Makes one call. `sequence` is unique within the run (0, 1, 2, …, though
    /// not necessarily in order) and can seed idempotency keys or pick
    /// records. Throws the call's `RPCError`, or a ``ScenarioCheckFailure``
    /// when the response is not what the scenario expects.
    func call(client: ParleyClient, sequence: UInt64, options: CallOptions) async throws
}

extension Scenario {
    func prepare(client: ParleyClient, options: CallOptions) async throws {}
}

/// Command-line settings a scenario may read.
struct ScenarioOptions: Sendable {
    /// Bytes of opaque payload per request, for scenarios that carry one.
    var payloadBytes: Int
    /// The `reserve` scenario's settings (defaults unless it was chosen).
    var reserve: ReserveSettings = .defaults
    /// The `negotiate` and `capture` scenarios' settings (defaults unless one of them was chosen).
    var orders: OrderSettings = .defaults
    /// `--ack-log`: where scenarios that make server-side records append
    /// those the server acknowledged; nil when not asked for.
    var ackLog: AckLog?
}

/// A response the scenario did not expect; counted as `bad_response`.
/// (A refusal the scenario expects under load has its own type and class,
/// such as ``ShortageFailure``.)
struct ScenarioCheckFailure: Error, Sendable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// The scenarios `--scenario` knows.
enum ScenarioCatalog {
    static let all: [any Scenario.Type] = [HealthScenario.self, ReserveScenario.self, NegotiateScenario.self, CaptureScenario.self]

    /// The scenarios that read ``OrderSettings`` (the order options).
    static let orderScenarios: [any Scenario.Type] = [NegotiateScenario.self, CaptureScenario.self]

    /// The known names, comma-separated.
    static var names: String { all.map { $0.name }.joined(separator: ", ") }

    /// `name: summary` per scenario, one a line.
    static var listing: String { all.map { "  \($0.name): \($0.summary)" }.joined(separator: "\n") }

    static func type(named name: String) -> (any Scenario.Type)? {
        all.first { $0.name == name }
    }

    /// The scenario called `name`, or an error listing the known ones.
    static func make(named name: String, options: ScenarioOptions) throws -> any Scenario {
        guard let type = type(named: name) else { throw unknown(name) }
        return try type.init(options: options)
    }

    static func unknown(_ name: String) -> LoadFailure {
        LoadFailure("unknown scenario '\(name)'; known scenarios: \(names)")
    }
}
