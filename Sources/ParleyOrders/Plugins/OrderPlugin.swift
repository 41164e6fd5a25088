import NIOCore
import NIOPosix
import ParleyProtos
import ParleyStore
import ParleyWarehouse
import Synchronization

/// Where in the pipeline the controller calls out to plug-ins (seed 002: call-out
/// points before and after the fixed steps, and around capture's sub-transactions).
public enum CallOutPoint: String, Sendable, Hashable, CaseIterable {
    /// After the item check: the lines are priced (inventory runs here).
    case afterItemCheck = "after_item_check"
    /// After the payment check: the whole amended order is known (fraud avoidance runs here).
    case afterPaymentCheck = "after_payment_check"
    /// Capture, sub-transaction 1: before the order is written and payment authorized.
    case preAuthorization = "pre_authorization"
    /// Capture, sub-transaction 3: after payment is authorized, before the order is captured.
    case finalCheck = "final_check"
}

/// What a plug-in needs to find in an order before it is worth calling: a
/// plug-in runs only when one of its interests is present.
public enum PluginInterest: Sendable, Hashable {
    /// Every order.
    case always
    /// The chosen payment instrument is a card.
    case cardPayment
    /// The order carries coupons.
    case coupons
    /// A line's item is of one of these classes.
    case itemClasses(Set<String>)
    /// A line's item has a hazardous-material class.
    case hazmat
}

/// What a plug-in sees: the request, the merchant's set-up and what the steps
/// before its call-out point found.
public struct PluginContext: Sendable {
    /// The caller (the agent placing the order).
    public var agent: String
    public var setup: MerchantSetup
    public var request: Parley_V1_OrderAcceptanceRequest
    /// The priced lines (request lines whose SKU is in the catalog).
    public var lines: [PricedLine]
    /// The order total, once the payment check has run.
    public var total: Money?
    /// The chosen instrument, once the payment check has run.
    public var payment: PaymentInstrument?
    /// The controller's `now`.
    public var now: Int64
    /// True for Capture ("buy now"), false for Negotiate ("recalculate").
    public var isCapture: Bool
    /// Units an earlier quote of this order already holds (inventory counts them as free for it).
    public var quotedHolds: [ReservationLineRequest]
    /// Whether stock may be counted as last seen rather than read exactly:
    /// for a capture whose hold is the check (``Warehouse/availabilityBeforeReserving(_:)``).
    public var stockMayBeLastSeen = false

    /// Whether `interest` is present in this order.
    public func has(_ interest: PluginInterest) -> Bool {
        switch interest {
        case .always: true
        case .cardPayment: payment?.kind == .card
        case .coupons: !request.coupons.isEmpty
        case .itemClasses(let classes): lines.contains { classes.contains($0.item.itemClass) }
        case .hazmat: lines.contains { $0.item.hazmatClass != nil }
        }
    }
}

/// What a plug-in found: amendments for the response, and units it asks the
/// order to hold (the inventory plug-in's stock-tracked lines).
public struct PluginResult: Sendable {
    public var amendments: [Amendment]
    /// Lines of stock-tracked items, to be held on quote (reserve-on-quote) and at capture.
    public var holds: [ReservationLineRequest]

    public init(amendments: [Amendment] = [], holds: [ReservationLineRequest] = []) {
        self.amendments = amendments
        self.holds = holds
    }
}

/// A plug-in of the order acceptance controller. It declares where it runs,
/// what it is interested in, how long it may take and what happens when it
/// fails; a merchant's configuration turns it on or off and may override the
/// timeout and the failure mode by its ``name``.
public protocol OrderPlugin: Sendable {
    /// The name a merchant's configuration uses (`inventory`, `fraud_avoidance`).
    var name: String { get }
    /// Where it runs.
    var point: CallOutPoint { get }
    /// It runs only when one of these is present in the order.
    var interests: Set<PluginInterest> { get }
    /// Its timeout when the merchant sets none.
    var defaultTimeoutMilliseconds: UInt32 { get }
    /// Fail-open (a failure or timeout lets the order through, with a notice)
    /// or fail-closed (it refuses the order), when the merchant sets nothing.
    var defaultFailOpen: Bool { get }

    /// Examines the order. Throwing or overrunning the timeout is a failure.
    func run(_ context: PluginContext) async throws -> PluginResult
}

/// A plug-in that runs in process in bounded time without waiting on
/// anything (no I/O, no sleeping): the runner calls it directly instead of
/// racing it against its timeout, which costs two tasks per call. Its
/// timeout does not apply; a throw is still a failure, fail-open or closed.
public protocol InlineOrderPlugin: OrderPlugin {
    func runInline(_ context: PluginContext) throws -> PluginResult
}

extension InlineOrderPlugin {
    public func run(_ context: PluginContext) async throws -> PluginResult { try runInline(context) }
}

/// A plug-in that can often answer from memory at once, and otherwise has
/// to wait (I/O): the runner calls ``runIfImmediate(_:)`` directly and races
/// ``OrderPlugin/run(_:)`` against the timeout only when that gives nil.
/// The race's tasks were more than the inventory plug-in's own work when
/// its counts were in memory (docs/benchmarks.md, session 14).
public protocol SometimesInlineOrderPlugin: OrderPlugin {
    /// The result, if it can be had without waiting on anything; a throw
    /// is a failure as from ``OrderPlugin/run(_:)``.
    func runIfImmediate(_ context: PluginContext) throws -> PluginResult?
}

/// Runs the plug-ins of one call-out point: in registration order, each one
/// enabled for the merchant and interested in the order, each under its
/// timeout. A failure becomes a `PLUGIN_FAILED` amendment: a notice when the
/// plug-in fails open, blocking with no alternative (REJECTED) when it fails closed.
struct PluginRunner: Sendable {
    let plugins: [any OrderPlugin]

    /// Whether a fail-closed plug-in is enabled at `point` for `setup`,
    /// whatever its interests (recovery cannot rebuild the context that
    /// decides those). Without a set-up, whether any plug-in is at `point`:
    /// what it would be set to cannot be known, so it counts as fail-closed.
    func hasFailClosed(_ point: CallOutPoint, for setup: MerchantSetup?) -> Bool {
        plugins.contains { plugin in
            guard plugin.point == point else { return false }
            guard let setup else { return true }
            let settings = setup.plugins[plugin.name]
            return (settings?.enabled ?? true) && !(settings?.failOpen ?? plugin.defaultFailOpen)
        }
    }

    /// Whether ``run(_:_:)`` would call any plug-in at `point` for this order.
    func wouldRun(_ point: CallOutPoint, _ context: PluginContext) -> Bool {
        plugins.contains { Self.runs($0, at: point, context) }
    }

    /// A plug-in runs at its point when the merchant has it on (the default)
    /// and one of its interests is in the order.
    private static func runs(_ plugin: any OrderPlugin, at point: CallOutPoint, _ context: PluginContext) -> Bool {
        plugin.point == point && (context.setup.plugins[plugin.name]?.enabled ?? true) && plugin.interests.contains(where: context.has)
    }

    func run(_ point: CallOutPoint, _ context: PluginContext) async -> PluginResult {
        var combined = PluginResult()
        for plugin in plugins where Self.runs(plugin, at: point, context) {
            let settings = context.setup.plugins[plugin.name]
            let timeout = settings?.timeoutMilliseconds ?? plugin.defaultTimeoutMilliseconds
            let failOpen = settings?.failOpen ?? plugin.defaultFailOpen
            let outcome: Result<PluginResult, Failure>
            if let inline = plugin as? any InlineOrderPlugin {
                do { outcome = .success(try inline.runInline(context)) } catch { outcome = .failure(.failed(String(describing: error))) }
            } else if let sometimes = plugin as? any SometimesInlineOrderPlugin, let immediate = Self.immediate(sometimes, context) {
                outcome = immediate
            } else {
                outcome = await Self.race(timeoutMilliseconds: timeout, { try await plugin.run(context) })
            }
            switch outcome {
            case .success(let result):
                combined.amendments += result.amendments
                combined.holds += result.holds
            case .failure(let failure):
                combined.amendments.append(
                    Amendment(
                        path: "",
                        code: .pluginFailed,
                        message: "plug-in \(plugin.name) \(failure.description); "
                            + (failOpen ? "it fails open, so the order is not held up" : "it fails closed, so the order cannot be accepted now"),
                        isBlocking: !failOpen
                    )
                )
            }
        }
        return combined
    }

    /// `plugin`'s immediate outcome, if it has one.
    private static func immediate(_ plugin: any SometimesInlineOrderPlugin, _ context: PluginContext) -> Result<PluginResult, Failure>? {
        do {
            return try plugin.runIfImmediate(context).map { .success($0) }
        } catch {
            return .failure(.failed(String(describing: error)))
        }
    }

    /// Why a plug-in gave no result.
    enum Failure: Error, CustomStringConvertible {
        case timedOut(UInt32)
        case failed(String)

        var description: String {
            switch self {
            case .timedOut(let milliseconds): "did not answer within \(milliseconds) ms"
            case .failed(let reason): "failed: \(reason)"
            }
        }
    }

    /// Runs `body`, giving up after the timeout without waiting for it (a
    /// plug-in that ignores cancellation cannot hold the order up).
    ///
    /// On an event loop (the daemon's calls run on NIO's loops) the timeout
    /// is a timer of that loop. Elsewhere it is a sleeping task; in the
    /// daemon that cost a dispatch timer per call, about 13 µs of CPU per
    /// Negotiate on a dispatch thread, whose wake-ups also took event loops
    /// from the group's shared `next()` (docs/benchmarks.md, session 7).
    static func race(
        timeoutMilliseconds: UInt32,
        timerLoop: (any EventLoop)? = MultiThreadedEventLoopGroup.currentEventLoop,
        _ body: @escaping @Sendable () async throws -> PluginResult
    ) async -> Result<PluginResult, Failure> {
        let gate = ResumeOnce()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Result<PluginResult, Failure>, Never>) in
            gate.arm(continuation)
            let cancelTimer: @Sendable () -> Void
            if let timerLoop {
                let timer = timerLoop.scheduleTask(in: .milliseconds(Int64(timeoutMilliseconds))) {
                    gate.resume(.failure(.timedOut(timeoutMilliseconds)))
                }
                cancelTimer = { timer.cancel() }
            } else {
                let timer = Task {
                    do { try await Task.sleep(for: .milliseconds(Int(timeoutMilliseconds))) } catch { return }
                    gate.resume(.failure(.timedOut(timeoutMilliseconds)))
                }
                cancelTimer = { timer.cancel() }
            }
            // On the work loops when called there (a capture), as the caller.
            Task(executorPreference: WorkLoops.executorIfHere) {
                let result: Result<PluginResult, Failure>
                do {
                    result = .success(try await body())
                } catch {
                    result = .failure(.failed(String(describing: error)))
                }
                if gate.resume(result) { cancelTimer() }
            }
        }
    }

    /// Resumes a continuation once, whichever side comes first.
    private final class ResumeOnce: Sendable {
        private let state = Mutex<CheckedContinuation<Result<PluginResult, Failure>, Never>?>(nil)

        func arm(_ continuation: CheckedContinuation<Result<PluginResult, Failure>, Never>) {
            state.withLock { $0 = continuation }
        }

        @discardableResult
        func resume(_ result: Result<PluginResult, Failure>) -> Bool {
            guard let continuation = state.withLock({ value -> CheckedContinuation<Result<PluginResult, Failure>, Never>? in
                defer { value = nil }
                return value
            }) else { return false }
            continuation.resume(returning: result)
            return true
        }
    }
}
