import Synchronization

/// A value shared by the tasks of one test.
final class Locked<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) { storage = Mutex(value) }

    var value: Value { storage.withLock { $0 } }

    func update<T>(_ body: (inout Value) -> T) -> T { storage.withLock { body(&$0) } }
}
