public import CoreMetrics
import ParleyWire

/// The server's metrics, made once at start-up through an explicit factory
/// (so that each daemon, and each test daemon, has its own registry):
///
/// | name | kind | labels |
/// |---|---|---|
/// | `parley_calls_total` | counter | method, code |
/// | `parley_call_duration_seconds` | histogram | method |
/// | `parley_open_connections` | gauge | |
/// | `parley_refused_connections_total` | counter | |
/// | `parley_inflight_calls` | gauge | |
/// | `parley_store_batch_size` | histogram | |
public final class ServerMetrics: Sendable {
    private let methods: [String: MethodMetrics]
    let unknownMethod: MethodMetrics
    private let openConnections: Meter
    private let refusedConnections: Counter
    private let inflightCalls: Meter
    private let batchSize: Recorder

    /// - Parameter paths: every method the router serves; metrics for them are made now.
    public init(factory: any MetricsFactory, paths: [String]) {
        var methods: [String: MethodMetrics] = [:]
        for path in paths { methods[path] = MethodMetrics(path: path, factory: factory) }
        self.methods = methods
        self.unknownMethod = MethodMetrics(path: "unknown", factory: factory)
        self.openConnections = Meter(label: "parley_open_connections", dimensions: [], factory: factory)
        self.refusedConnections = Counter(label: "parley_refused_connections_total", dimensions: [], factory: factory)
        self.inflightCalls = Meter(label: "parley_inflight_calls", dimensions: [], factory: factory)
        self.batchSize = Recorder(label: "parley_store_batch_size", dimensions: [], aggregate: true, factory: factory)
    }

    func method(_ path: String) -> MethodMetrics { methods[path] ?? unknownMethod }

    func connectionOpened() { openConnections.increment() }
    func connectionClosed() { openConnections.decrement() }
    func connectionRefused() { refusedConnections.increment() }
    func callStarted() { inflightCalls.increment() }
    func callEnded() { inflightCalls.decrement() }

    /// Records the size of one group-commit batch.
    public func recordBatch(size: Int) { batchSize.record(size) }
}

/// One method's counters (one per status code, made up front) and latency.
final class MethodMetrics: Sendable {
    let path: String
    private let calls: [Counter]
    private let duration: Timer

    init(path: String, factory: any MetricsFactory) {
        self.path = path
        self.calls = RPCError.Code.all.map { code in
            Counter(label: "parley_calls_total", dimensions: [("method", path), ("code", code.name)], factory: factory)
        }
        self.duration = Timer(label: "parley_call_duration_seconds", dimensions: [("method", path)], factory: factory)
    }

    func record(code: RPCError.Code, nanoseconds: Int64) {
        if code.rawValue >= 0 && code.rawValue < calls.count { calls[code.rawValue].increment() }
        if nanoseconds > 0 { duration.recordNanoseconds(nanoseconds) }
    }
}
