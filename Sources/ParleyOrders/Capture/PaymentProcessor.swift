import Foundation
import GRDB
import ParleyStore

/// What is asked of a payment processor: authorize `amount` on an instrument,
/// once per idempotency key.
public struct AuthorizationRequest: Sendable {
    /// One per order (`<agent>/<order id>`): a retry gets the first answer.
    public var key: String
    public var merchant: String
    public var amount: Money
    public var kind: PaymentKind
    /// The card number for a card (handed to the processor, never stored by
    /// Orders), the instrument's number otherwise.
    public var instrument: String
    /// What may be stored and shown: `visa ••••4242`.
    public var maskedReference: String
}

/// A processor's record of one authorization.
public struct AuthorizationRecord: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        case authorized = "AUTHORIZED"
        case declined = "DECLINED"
        /// Authorized, then captured (the money moves).
        case captured = "CAPTURED"
        /// Authorized, then voided (the hold on the funds is lifted).
        case voided = "VOIDED"
    }

    public var id: String
    public var key: String
    public var merchant: String
    public var amount: Money
    public var state: State
    /// For a decline: `CARD_DECLINED`, `INSUFFICIENT_FUNDS`.
    public var declineCode: String
}

/// The processor is down or answered with an error; the authorization may be retried.
public struct PaymentProcessorError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A payment processor (DESIGN §4): authorizations are idempotent per key,
/// and the processor can be asked what it did for a key, so that an order
/// interrupted between its sub-transactions can be reconciled.
public protocol PaymentProcessor: Sendable {
    /// Authorizes, or returns what an earlier call with the same key did.
    /// Throws ``PaymentProcessorError`` when it could not decide.
    func authorize(_ request: AuthorizationRequest) async throws -> AuthorizationRecord
    /// What was done for `key`, if anything.
    func authorization(key: String) async throws -> AuthorizationRecord?
    /// Captures the authorizations of `keys` (those still AUTHORIZED).
    func capture(keys: [String]) async throws
    /// Voids the authorization of `key`, if it is still AUTHORIZED.
    func void(key: String) async throws
    /// Authorizations neither captured nor voided, oldest first.
    func openAuthorizations(limit: Int) async throws -> [AuthorizationRecord]
}

/// A processor whose ledger is a table of Parley's own database and which
/// answers without waiting on anything: it can authorize inside the write
/// that records the order, so that a capture's three sub-transactions share
/// one group commit instead of waiting for three (``Orders``, capture). Each
/// sub-transaction still commits or rolls back on its own savepoint, and an
/// authorization is durable only together with its order.
public protocol InTransactionPaymentProcessor: PaymentProcessor {
    /// Whether it can now: an answer it has to wait for would hold up every
    /// write of the daemon while it waits.
    var authorizesInTransaction: Bool { get }
    /// Authorizes inside `db`'s current transaction: the same answer and the
    /// same record as ``PaymentProcessor/authorize(_:)``. `random` is drawn
    /// by the caller, off the writer.
    func authorize(in db: Database, _ request: AuthorizationRequest, random: [UInt8]) throws -> AuthorizationRecord
}

/// The built-in payment processor simulator. It keeps its own ledger
/// (`payments_authorization`, written through the database's group commit as
/// an external processor would keep its own) and decides by test card:
///
/// | card number        | answer                              |
/// |--------------------|-------------------------------------|
/// | 4000000000000002   | declined, `CARD_DECLINED`           |
/// | 4000000000009995   | declined, `INSUFFICIENT_FUNDS`      |
/// | 4000000000000119   | processor error (nothing recorded)  |
/// | any other valid card | authorized                       |
///
/// Gift certificates, prepaid accounts and purchase orders are authorized,
/// except a reference starting with `DECLINE`. Every call waits `latency`
/// first (0 by default; `parleyd --payment-latency-ms`).
public struct SimulatedPaymentProcessor: InTransactionPaymentProcessor {
    let database: ParleyDatabase
    let clock: any WallClock
    let latency: Duration

    public static let declinedCard = "4000000000000002"
    public static let insufficientFundsCard = "4000000000009995"
    public static let processorErrorCard = "4000000000000119"

    public init(database: ParleyDatabase, clock: any WallClock, latency: Duration = .zero) {
        self.database = database
        self.clock = clock
        self.latency = latency
    }

    public func authorize(_ request: AuthorizationRequest) async throws -> AuthorizationRecord {
        if latency > .zero { try await Task.sleep(for: latency) }
        let declineCode = try Self.decide(request)
        let random = Self.randomPart()
        return try await database.batchedWriter.write { db in try self.record(db, request, declineCode: declineCode, random: random) }
    }

    /// Without latency: the simulator decides by the test card alone.
    public var authorizesInTransaction: Bool { latency == .zero }

    public func authorize(in db: Database, _ request: AuthorizationRequest, random: [UInt8]) throws -> AuthorizationRecord {
        try record(db, request, declineCode: try Self.decide(request), random: random)
    }

    /// The random part of an authorization id (8 bytes, one draw).
    public static func randomPart() -> [UInt8] { withUnsafeBytes(of: UInt64.random(in: .min ... .max)) { Array($0) } }

    /// The decline code for `request` ("" when it is authorized); throws for
    /// the processor-error test card.
    static func decide(_ request: AuthorizationRequest) throws -> String {
        switch (request.kind, request.instrument) {
        case (.card, Self.processorErrorCard):
            throw PaymentProcessorError(message: "the simulated processor answered with an error (test card \(Self.processorErrorCard))")
        case (.card, Self.declinedCard): "CARD_DECLINED"
        case (.card, Self.insufficientFundsCard): "INSUFFICIENT_FUNDS"
        case (.card, _): ""
        case (_, let reference) where reference.hasPrefix("DECLINE"): "CARD_DECLINED"
        default: ""
        }
    }

    /// The ledger row for `request`: the one an earlier call wrote, or a new one.
    func record(_ db: Database, _ request: AuthorizationRequest, declineCode declined: String, random: [UInt8]) throws -> AuthorizationRecord {
        if let existing = try Self.record(db, key: request.key) { return existing }
        let now = clock.nowMilliseconds
        let id = Self.authorizationID(nowMilliseconds: now, random: random)
        let state: AuthorizationRecord.State = declined.isEmpty ? .authorized : .declined
        try db.executeDirect(
            sql: """
                INSERT INTO payments_authorization
                    (id, key, merchant, amount_minor, currency, instrument, state, decline_code, created_at_ms, updated_at_ms)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                """
        ) { binder in
            binder.bind(id)
            binder.bind(request.key)
            binder.bind(request.merchant)
            binder.bind(request.amount.minorUnits)
            binder.bind(request.amount.currency.rawValue)
            binder.bind(request.maskedReference)
            binder.bind(state.rawValue)
            binder.bind(declined)
            binder.bind(now)
        }
        return AuthorizationRecord(id: id, key: request.key, merchant: request.merchant, amount: request.amount, state: state, declineCode: declined)
    }

    /// `auth_`, the time in milliseconds (12 hex digits), then 8 random
    /// bytes: ids sort by creation, so new ledger rows are appended to the
    /// table's last pages instead of dirtying a random page each.
    static func authorizationID(nowMilliseconds: Int64, random: [UInt8]) -> String {
        let time = UInt64(max(0, nowMilliseconds))
        let timeBytes = (0..<6).reversed().map { UInt8(truncatingIfNeeded: time >> (8 * UInt64($0))) }
        return "auth_" + Hex.encode(timeBytes + random)
    }

    public func authorization(key: String) async throws -> AuthorizationRecord? {
        try await database.writer.read { db in try Self.record(db, key: key) }
    }

    public func capture(keys: [String]) async throws {
        try await settle(keys: keys, to: .captured)
    }

    public func void(key: String) async throws {
        try await settle(keys: [key], to: .voided)
    }

    private func settle(keys: [String], to state: AuthorizationRecord.State) async throws {
        guard !keys.isEmpty else { return }
        let now = clock.nowMilliseconds
        try await database.batchedWriter.write { db in
            for key in keys {
                try db.executeDirect(
                    sql: "UPDATE payments_authorization SET state = ?1, updated_at_ms = ?2 WHERE key = ?3 AND state = 'AUTHORIZED'"
                ) { binder in
                    binder.bind(state.rawValue)
                    binder.bind(now)
                    binder.bind(key)
                }
            }
        }
    }

    public func openAuthorizations(limit: Int) async throws -> [AuthorizationRecord] {
        try await database.writer.read { db in
            try db.queryDirect(
                sql: """
                    SELECT id, key, merchant, amount_minor, currency, state, decline_code FROM payments_authorization
                    WHERE state = 'AUTHORIZED' ORDER BY created_at_ms LIMIT ?
                    """,
                { $0.bind(limit) },
                row: Self.record
            ).compactMap { $0 }
        }
    }

    /// The ledger row for `key`, if any. Read with the store's direct
    /// statements: every capture asks inside the writer's transaction, and
    /// GRDB's generic row fetch there was 5 % of the writer's time.
    static func record(_ db: Database, key: String) throws -> AuthorizationRecord? {
        try db.queryDirect(
            sql: "SELECT id, key, merchant, amount_minor, currency, state, decline_code FROM payments_authorization WHERE key = ?",
            { $0.bind(key) },
            row: record
        ).first ?? nil
    }

    /// A ledger row read as `id, key, merchant, amount_minor, currency, state, decline_code`.
    static func record(_ row: borrowing DirectRow) -> AuthorizationRecord? {
        guard let currency = CurrencyCode(rawValue: row.string(4)), let state = AuthorizationRecord.State(rawValue: row.string(5)) else {
            return nil
        }
        return AuthorizationRecord(
            id: row.string(0), key: row.string(1), merchant: row.string(2), amount: Money(minorUnits: row.int64(3), currency: currency),
            state: state, declineCode: row.string(6)
        )
    }
}
