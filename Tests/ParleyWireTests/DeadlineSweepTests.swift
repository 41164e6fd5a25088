import NIOCore
import ParleyWire
import Testing

@Suite("Deadline sweep")
struct DeadlineSweepTests {
    @Test("splits due calls from the next deadline ahead")
    func partition() {
        let now = NIODeadline.uptimeNanoseconds(1_000_000)
        let entries: [(key: UInt32, deadline: NIODeadline)] = [
            (1, now - .milliseconds(5)), (2, now), (3, now + .milliseconds(30)), (4, now + .milliseconds(10)),
        ]
        let (due, next) = DeadlineSweep.partition(entries, now: now)
        #expect(due.sorted() == [1, 2])
        #expect(next == now + .milliseconds(10))
        let nothing = DeadlineSweep.partition([(key: UInt32, deadline: NIODeadline)](), now: now)
        #expect(nothing.due.isEmpty && nothing.next == nil)
    }
}
