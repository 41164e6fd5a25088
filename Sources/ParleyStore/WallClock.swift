import Foundation
import Synchronization

/// Wall-clock time, injectable so that tests control expiries (DESIGN §4).
public protocol WallClock: Sendable {
    /// Milliseconds since the Unix epoch.
    var nowMilliseconds: Int64 { get }
}

/// The system's clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public var nowMilliseconds: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// A clock that moves only when told to. For tests.
public final class ManualWallClock: WallClock {
    private let now: Mutex<Int64>

    public init(startingAt milliseconds: Int64 = 1_700_000_000_000) {
        self.now = Mutex(milliseconds)
    }

    public var nowMilliseconds: Int64 { now.withLock { $0 } }

    public func advance(by duration: Duration) {
        let parts = duration.components
        let milliseconds = parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
        now.withLock { $0 += milliseconds }
    }

    public func set(milliseconds: Int64) { now.withLock { $0 = milliseconds } }
}
