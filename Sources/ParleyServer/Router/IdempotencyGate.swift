import Crypto
import Foundation
import Logging
import ParleyPKI
import ParleyProtos
import ParleyStore
import ParleyWire
import SwiftProtobuf
import Synchronization

/// Runs mutating calls that carry an `idempotency-key` at most once per
/// (principal, method, key) within the retention (DESIGN §2):
///
/// - same key, same request: the stored outcome is returned, and a duplicate
///   that arrives while the first is still running waits for its outcome;
/// - same key, different request: FAILED_PRECONDITION, nothing runs.
///
/// Outcomes that a retry could change (CANCELLED, DEADLINE_EXCEEDED,
/// UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNKNOWN, DATA_LOSS,
/// UNAUTHENTICATED) are not stored, so a retry runs the method again.
final class IdempotencyGate: Sendable {
    private struct InFlight {
        let digest: Data
        var waiters: [CheckedContinuation<Result<Data, RPCError>?, Never>]
    }

    private let store: IdempotencyStore
    private let maxKeyBytes: Int
    private let clock: any WallClock
    private let logger: Logger
    private let inFlight = Mutex<[String: InFlight]>([:])

    init(store: IdempotencyStore, maxKeyBytes: Int, clock: any WallClock, logger: Logger) {
        self.store = store
        self.maxKeyBytes = maxKeyBytes
        self.clock = clock
        self.logger = logger
    }

    private enum Admission { case first, duplicate, conflict }

    static let storedCodes: Set<RPCError.Code> = [
        .ok, .invalidArgument, .notFound, .alreadyExists, .permissionDenied, .failedPrecondition, .outOfRange, .unimplemented,
    ]

    func run(
        context: CallContext,
        key: String,
        request: some SwiftProtobuf.Message,
        body: @Sendable (IdempotentOutcome) async -> Result<Data, RPCError>
    ) async -> Result<Data, RPCError> {
        guard key.utf8.count <= maxKeyBytes else {
            return .failure(
                .invalidArgument(
                    field: "metadata.idempotency-key",
                    "at most \(maxKeyBytes) bytes (limits.max_idempotency_key_bytes); this one has \(key.utf8.count)"
                )
            )
        }
        let digest: Data
        do {
            digest = Data(SHA256.hash(data: try request.deterministicBytes()))
        } catch {
            return .failure(RPCError(code: .invalidArgument, message: "request cannot be serialized: \(error)"))
        }
        let scope = "\(context.peer.principal)\u{0}\(context.method.path)\u{0}\(key)"
        let mismatch = RPCError(
            code: .failedPrecondition,
            message: "idempotency-key '\(key)' was already used with a different request"
        )

        // A duplicate of a call still running waits for that call's outcome.
        let waited: Result<Data, RPCError>? = await withCheckedContinuation { continuation in
            let admission: Admission = inFlight.withLock { table in
                if var entry = table[scope] {
                    guard entry.digest == digest else { return .conflict }
                    entry.waiters.append(continuation)
                    table[scope] = entry
                    return .duplicate
                }
                table[scope] = InFlight(digest: digest, waiters: [])
                return .first
            }
            switch admission {
            case .first: continuation.resume(returning: nil)
            case .conflict: continuation.resume(returning: .failure(mismatch))
            case .duplicate: break
            }
        }
        if let waited { return waited }

        let outcome = IdempotentOutcome(
            scope: IdempotencyKey(principal: context.peer.principal, method: context.method.path, key: key),
            digest: digest,
            clock: clock,
            store: store
        )
        let result = await runFirst(context: context, key: key, digest: digest, mismatch: mismatch, outcome: outcome) {
            await body(outcome)
        }
        let waiters = inFlight.withLock { table in table.removeValue(forKey: scope)?.waiters ?? [] }
        for waiter in waiters { waiter.resume(returning: result) }
        return result
    }

    private func runFirst(
        context: CallContext,
        key: String,
        digest: Data,
        mismatch: RPCError,
        outcome: IdempotentOutcome,
        body: @Sendable () async -> Result<Data, RPCError>
    ) async -> Result<Data, RPCError> {
        let method = context.method.path
        do {
            if let record = try await store.lookup(outcome.scope, nowMilliseconds: clock.nowMilliseconds) {
                guard record.requestDigest == digest else { return .failure(mismatch) }
                return Self.outcome(of: record)
            }
        } catch {
            logger.error("idempotency lookup failed", metadata: ["error": "\(error)"])
            return .failure(RPCError(code: .unavailable, message: "idempotency store unavailable; retry", retryAfterMilliseconds: 100))
        }

        let result = await body()
        // The method committed its outcome with its change: nothing left to store.
        if case .success = result, outcome.wasRecorded { return result }
        let code: RPCError.Code
        let payload: Data
        switch result {
        case .success(let response):
            code = .ok
            payload = response
        case .failure(let error):
            code = error.code
            payload = (try? Data(error.status.serializedBytes() as [UInt8])) ?? Data()
        }
        guard Self.storedCodes.contains(code) else { return result }
        do {
            try await store.store(
                outcome.scope,
                record: IdempotencyRecord(
                    requestDigest: digest,
                    code: code.rawValue,
                    payload: payload,
                    createdAtMilliseconds: clock.nowMilliseconds
                )
            )
        } catch {
            // The call itself succeeded durably; only its replay record is missing.
            logger.error("storing an idempotent outcome failed", metadata: ["method": "\(method)", "error": "\(error)"])
        }
        return result
    }

    private static func outcome(of record: IdempotencyRecord) -> Result<Data, RPCError> {
        if record.code == RPCError.Code.ok.rawValue { return .success(record.payload) }
        let status = (try? Parley_Wire_V1_Status(serializedBytes: record.payload)) ?? Parley_Wire_V1_Status()
        return .failure(
            RPCError(status: status)
                ?? RPCError(code: RPCError.Code(rawValue: record.code), message: "stored outcome")
        )
    }
}
