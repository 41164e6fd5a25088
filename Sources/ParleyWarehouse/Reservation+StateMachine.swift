/// Where a reservation is in its life: HELD, then exactly one of CONFIRMED
/// (capture), RELEASED (failure or the owner gave up) or EXPIRED (its window
/// passed). Only HELD moves; the other three are final.
public enum ReservationState: String, Sendable, Hashable, CaseIterable {
    case held = "HELD"
    case confirmed = "CONFIRMED"
    case released = "RELEASED"
    case expired = "EXPIRED"

    public var isFinal: Bool { self != .held }
}

/// The rules of a reservation's life, free of storage so they can be tested
/// alone. Time is part of the state: a HELD reservation whose window has
/// passed is EXPIRED whether or not anything has written that down yet.
public enum ReservationStateMachine {
    public enum Event: Sendable, Hashable {
        case extend(newExpiresAtMilliseconds: Int64)
        case confirm
        case release
        case expire
    }

    /// What an event does.
    public enum Transition: Sendable, Hashable {
        /// Moves to `state` (with this expiry); units move as `movement` says.
        case move(to: ReservationState, expiresAtMilliseconds: Int64, movement: Movement)
        /// Already where the event leads: nothing changes (a repeated confirm or release).
        case unchanged
        /// Refused; when the reservation has lapsed unnoticed, `lapsed` says
        /// it must be recorded EXPIRED all the same.
        case refused(WarehouseError, lapsed: Bool)
    }

    /// What happens to a reservation's units.
    public enum Movement: String, Sendable, Hashable {
        /// Held stays held (an extension).
        case none
        /// Held becomes sold.
        case confirm
        /// Held becomes free.
        case release
        /// Held becomes free because the window passed.
        case expire
    }

    /// The state as of `now`: HELD past its window reads as EXPIRED.
    public static func effectiveState(_ state: ReservationState, expiresAtMilliseconds: Int64, now: Int64) -> ReservationState {
        state == .held && now >= expiresAtMilliseconds ? .expired : state
    }

    public static func transition(
        from state: ReservationState,
        expiresAtMilliseconds expiresAt: Int64,
        event: Event,
        now: Int64
    ) -> Transition {
        let lapsed = state == .held && now >= expiresAt
        let current = effectiveState(state, expiresAtMilliseconds: expiresAt, now: now)
        switch (current, event) {
        case (.held, .extend(let newExpiry)):
            return .move(to: .held, expiresAtMilliseconds: newExpiry, movement: .none)
        case (.held, .confirm):
            return .move(to: .confirmed, expiresAtMilliseconds: expiresAt, movement: .confirm)
        case (.held, .release):
            return .move(to: .released, expiresAtMilliseconds: expiresAt, movement: .release)
        case (.held, .expire):
            return .unchanged  // Not yet due.
        case (.expired, .expire):
            return lapsed ? .move(to: .expired, expiresAtMilliseconds: expiresAt, movement: .expire) : .unchanged
        case (.expired, .release):
            // The units are already free: the release's intent holds.
            return lapsed ? .move(to: .expired, expiresAtMilliseconds: expiresAt, movement: .expire) : .unchanged
        case (.expired, .confirm), (.expired, .extend):
            return .refused(.expired(atMilliseconds: expiresAt), lapsed: lapsed)
        case (.confirmed, .confirm), (.released, .release):
            return .unchanged
        case (.confirmed, _), (.released, _):
            return .refused(.notHeld(current), lapsed: false)
        }
    }
}
