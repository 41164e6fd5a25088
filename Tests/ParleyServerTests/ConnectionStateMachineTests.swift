@testable import ParleyServer
import ParleyWire
import Testing

@Suite("Connection state machine")
struct ConnectionStateMachineTests {
    @Test("call ids must grow")
    func idsGrow() {
        var machine = ConnectionStateMachine<Int>(maxConcurrentCalls: 4, retryAfterMilliseconds: 10)
        #expect(machine.receiveCallID(1) == .accepted)
        #expect(machine.receiveCallID(5) == .accepted)
        guard case .violation(let error) = machine.receiveCallID(5) else {
            Issue.record("a repeated id must be a violation")
            return
        }
        #expect(error.code == .invalidArgument)
        if case .accepted = machine.receiveCallID(0) { Issue.record("id 0 must be a violation") }
        #expect(machine.lastCallID == 5)
    }

    @Test("the concurrency limit refuses with a retry hint and frees a slot when a call ends")
    func limit() {
        var machine = ConnectionStateMachine<Int>(maxConcurrentCalls: 2, retryAfterMilliseconds: 25)
        #expect(machine.admit(id: 1, call: 1) == nil)
        #expect(machine.admit(id: 2, call: 2) == nil)
        let refusal = machine.admit(id: 3, call: 3)
        #expect(refusal?.code == .resourceExhausted)
        #expect(refusal?.retryAfterMilliseconds == 25)
        #expect(machine.finish(id: 1) == 1)
        #expect(machine.admit(id: 4, call: 4) == nil)
    }

    @Test("a call ends exactly once")
    func endsOnce() {
        var machine = ConnectionStateMachine<Int>(maxConcurrentCalls: 2, retryAfterMilliseconds: 0)
        _ = machine.admit(id: 1, call: 7)
        #expect(machine.finish(id: 1) == 7)
        #expect(machine.finish(id: 1) == nil)  // a late completion after Cancel or deadline is dropped
    }

    @Test("going away admits nothing and closes when the last call ends")
    func goingAway() {
        var machine = ConnectionStateMachine<Int>(maxConcurrentCalls: 2, retryAfterMilliseconds: 0)
        _ = machine.receiveCallID(3)
        _ = machine.admit(id: 3, call: 3)
        #expect(machine.beginGoingAway() == 3)
        #expect(machine.beginGoingAway() == nil)
        #expect(machine.admit(id: 4, call: 4)?.code == .unavailable)
        #expect(!machine.canClose)
        _ = machine.finish(id: 3)
        #expect(machine.canClose)
    }
}
