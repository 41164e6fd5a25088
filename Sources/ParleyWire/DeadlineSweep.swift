public import NIOCore

/// One timer per connection for many call deadlines: it wakes at the
/// earliest deadline, ends the calls that are due, and sleeps until the
/// next. Used by both ends of the wire, where a timer per call would cost a
/// locked heap insert and an O(n) cancel on every call.
public struct DeadlineSweep {
    private var timer: Scheduled<Void>?
    /// When the timer fires; `distantFuture` while none is set.
    public private(set) var wakeAt = NIODeadline.distantFuture

    public init() {}

    /// Makes sure the timer fires no later than `deadline`.
    public mutating func ensure(wakeBy deadline: NIODeadline, on eventLoop: any EventLoop, _ fire: @escaping @Sendable () -> Void) {
        guard deadline < wakeAt else { return }
        timer?.cancel()
        wakeAt = deadline
        timer = eventLoop.scheduleTask(deadline: deadline, fire)
    }

    /// Call first thing when the timer fires.
    public mutating func fired() {
        timer = nil
        wakeAt = .distantFuture
    }

    public mutating func cancel() {
        timer?.cancel()
        fired()
    }

    /// Splits deadlines into the keys that are due at `now` and the earliest
    /// deadline still ahead (nil when none).
    public static func partition<Key>(
        _ deadlines: some Sequence<(key: Key, deadline: NIODeadline)>,
        now: NIODeadline
    ) -> (due: [Key], next: NIODeadline?) {
        var due: [Key] = []
        var next: NIODeadline?
        for entry in deadlines {
            if entry.deadline <= now {
                due.append(entry.key)
            } else if next.map({ entry.deadline < $0 }) ?? true {
                next = entry.deadline
            }
        }
        return (due, next)
    }
}
