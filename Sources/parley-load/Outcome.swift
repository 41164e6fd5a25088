import ParleyWire

/// How one call ended.
enum Outcome: Sendable {
    case success
    /// The kind of failure and a message describing it (kept for the first
    /// failure of each kind).
    case failure(ErrorKind, String)

    /// Classifies an error thrown by a scenario call.
    init(error: any Error) {
        // Our own stop (the drain period ran out) cancels outstanding calls;
        // the client reports that as CANCELLED, which the server never caused.
        if Task.isCancelled || error is CancellationError {
            self = .failure(.unfinished, "still outstanding when the drain period ended")
        } else if let error = error as? RPCError {
            self = .failure(.status(error.code), error.message)
        } else if let error = error as? ShortageFailure {
            self = .failure(.shortage, error.message)
        } else if let error = error as? ScenarioCheckFailure {
            self = .failure(.badResponse, error.message)
        } else {
            self = .failure(.other, "\(error)")
        }
    }
}

/// The failure classes the report counts separately.
enum ErrorKind: Hashable, Sendable {
    /// A status from the wire or the client library (`UNAVAILABLE`, `DEADLINE_EXCEEDED`, …).
    case status(RPCError.Code)
    /// The call succeeded but the scenario's check of the response failed.
    case badResponse
    /// The server answered that there was not enough stock (`reserve`): a
    /// business outcome, not a server error.
    case shortage
    /// Open loop only: not sent because `--max-outstanding` calls were already in flight.
    case overloaded
    /// Still in flight when the drain period after the run ended; cancelled.
    case unfinished
    /// Anything else thrown (a bug in a scenario, most likely).
    case other

    /// The name in reports: the status code's name (`UNAVAILABLE`) for wire
    /// statuses, lower case for what the load generator itself decided.
    var name: String {
        switch self {
        case .status(let code): code.name
        case .badResponse: "bad_response"
        case .shortage: "shortage"
        case .overloaded: "overloaded"
        case .unfinished: "unfinished"
        case .other: "client_error"
        }
    }
}
