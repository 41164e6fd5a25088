import ParleyWire

/// The call table of one connection (DESIGN §2), free of sockets so that it
/// can be tested alone.
///
/// - Call ids must grow: a Call whose id is not greater than every id before
///   it is a protocol violation (GoAway, close).
/// - At most `maxConcurrentCalls` calls run at once; more are refused with
///   RESOURCE_EXHAUSTED.
/// - After GoAway no call is admitted (UNAVAILABLE); the connection may close
///   once the calls it admitted have finished.
/// - A call ends exactly once: whichever of completion, Cancel or deadline
///   comes first removes it and is the only one to reply.
struct ConnectionStateMachine<Call> {
    enum IDCheck: Equatable {
        case accepted
        case violation(RPCError)
    }

    let maxConcurrentCalls: Int
    let retryAfterMilliseconds: UInt32
    private(set) var lastCallID: UInt32 = 0
    private(set) var calls: [UInt32: Call] = [:]
    private(set) var isGoingAway = false

    init(maxConcurrentCalls: Int, retryAfterMilliseconds: UInt32) {
        self.maxConcurrentCalls = maxConcurrentCalls
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    /// Checks and records the id of an arriving Call.
    mutating func receiveCallID(_ id: UInt32) -> IDCheck {
        guard id > lastCallID else {
            return .violation(
                RPCError(code: .invalidArgument, message: "call id \(id) is not greater than the last call id \(lastCallID)")
            )
        }
        lastCallID = id
        return .accepted
    }

    /// Admits a call whose id was accepted. Returns the refusal, if any.
    mutating func admit(id: UInt32, call: Call) -> RPCError? {
        if isGoingAway {
            return RPCError(code: .unavailable, message: "the connection is going away; retry on a new connection")
        }
        if calls.count >= maxConcurrentCalls {
            return RPCError(
                code: .resourceExhausted,
                message: "more than \(maxConcurrentCalls) concurrent calls on one connection",
                retryAfterMilliseconds: retryAfterMilliseconds
            )
        }
        precondition(calls[id] == nil)
        calls[id] = call
        return nil
    }

    /// Whether `id` is still running.
    func isActive(_ id: UInt32) -> Bool { calls[id] != nil }

    /// Ends a call: returns it if it was still running (the caller replies),
    /// nil if it had already ended (the caller stays silent).
    mutating func finish(id: UInt32) -> Call? {
        calls.removeValue(forKey: id)
    }

    /// Ends every call at once (connection lost or closed by force).
    mutating func finishAll() -> [Call] {
        defer { calls.removeAll() }
        return Array(calls.values)
    }

    /// Starts going away. Returns the last call id to announce, or nil if a
    /// GoAway was already sent.
    mutating func beginGoingAway() -> UInt32? {
        guard !isGoingAway else { return nil }
        isGoingAway = true
        return lastCallID
    }

    /// True once going away and every admitted call has finished.
    var canClose: Bool { isGoingAway && calls.isEmpty }

    var isIdle: Bool { calls.isEmpty }
}
