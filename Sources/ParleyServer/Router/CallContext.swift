public import Logging
public import ParleyPKI
public import ParleyWire

/// What a method handler knows about the call it serves.
public struct CallContext: Sendable {
    /// The call's id on its connection.
    public let callID: UInt32
    public let method: MethodPath
    /// The verified caller.
    public let peer: PeerIdentity
    /// The call's metadata (`idempotency-key`, `request-id`, ...).
    public let metadata: [String: String]
    /// When the call's deadline passes. The handler's task is cancelled then.
    public let deadline: ContinuousClock.Instant
    /// A logger carrying the call's method, principal and request id.
    public var logger: Logger
    /// For a mutating call with an `idempotency-key`: where the method records
    /// its outcome inside its own transaction (see ``IdempotentOutcome``).
    public var idempotentOutcome: IdempotentOutcome?

    public init(
        callID: UInt32,
        method: MethodPath,
        peer: PeerIdentity,
        metadata: [String: String],
        deadline: ContinuousClock.Instant,
        logger: Logger
    ) {
        self.callID = callID
        self.method = method
        self.peer = peer
        self.metadata = metadata
        self.deadline = deadline
        self.logger = logger
    }

    public var idempotencyKey: String? {
        guard let key = metadata[MetadataKey.idempotencyKey], !key.isEmpty else { return nil }
        return key
    }

    public var requestID: String? { metadata[MetadataKey.requestID] }
}
