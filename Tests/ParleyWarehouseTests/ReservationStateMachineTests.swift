import ParleyWarehouse
import Testing

@Suite("Reservation state machine")
struct ReservationStateMachineTests {
    typealias Machine = ReservationStateMachine

    @Test("a held reservation confirms, releases or extends before its expiry")
    func held() {
        #expect(Machine.transition(from: .held, expiresAtMilliseconds: 1000, event: .confirm, now: 999) == .move(to: .confirmed, expiresAtMilliseconds: 1000, movement: .confirm))
        #expect(Machine.transition(from: .held, expiresAtMilliseconds: 1000, event: .release, now: 0) == .move(to: .released, expiresAtMilliseconds: 1000, movement: .release))
        #expect(Machine.transition(from: .held, expiresAtMilliseconds: 1000, event: .extend(newExpiresAtMilliseconds: 5000), now: 10) == .move(to: .held, expiresAtMilliseconds: 5000, movement: .none))
        #expect(Machine.transition(from: .held, expiresAtMilliseconds: 1000, event: .expire, now: 999) == .unchanged)
    }

    @Test("at and after expires_at a held reservation is expired: confirm and extend are refused, and it is written down")
    func lapsed() {
        for now: Int64 in [1000, 5000] {
            #expect(Machine.effectiveState(.held, expiresAtMilliseconds: 1000, now: now) == .expired)
            #expect(Machine.transition(from: .held, expiresAtMilliseconds: 1000, event: .confirm, now: now) == .refused(.expired(atMilliseconds: 1000), lapsed: true))
            #expect(Machine.transition(from: .held, expiresAtMilliseconds: 1000, event: .extend(newExpiresAtMilliseconds: 9000), now: now) == .refused(.expired(atMilliseconds: 1000), lapsed: true))
            #expect(Machine.transition(from: .held, expiresAtMilliseconds: 1000, event: .expire, now: now) == .move(to: .expired, expiresAtMilliseconds: 1000, movement: .expire))
            // Releasing a lapsed reservation frees nothing more: it is recorded expired.
            #expect(Machine.transition(from: .held, expiresAtMilliseconds: 1000, event: .release, now: now) == .move(to: .expired, expiresAtMilliseconds: 1000, movement: .expire))
        }
    }

    @Test("final states do not move; repeating the event that ended it is harmless")
    func final() {
        #expect(Machine.transition(from: .confirmed, expiresAtMilliseconds: 1000, event: .confirm, now: 0) == .unchanged)
        #expect(Machine.transition(from: .released, expiresAtMilliseconds: 1000, event: .release, now: 0) == .unchanged)
        #expect(Machine.transition(from: .confirmed, expiresAtMilliseconds: 1000, event: .release, now: 0) == .refused(.notHeld(.confirmed), lapsed: false))
        #expect(Machine.transition(from: .released, expiresAtMilliseconds: 1000, event: .confirm, now: 0) == .refused(.notHeld(.released), lapsed: false))
        #expect(Machine.transition(from: .expired, expiresAtMilliseconds: 1000, event: .confirm, now: 2000) == .refused(.expired(atMilliseconds: 1000), lapsed: false))
        #expect(Machine.transition(from: .expired, expiresAtMilliseconds: 1000, event: .expire, now: 2000) == .unchanged)
        #expect(ReservationState.allCases.filter(\.isFinal) == [.confirmed, .released, .expired])
    }
}
