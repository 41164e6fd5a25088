/// A method's path on the wire: `/parley.v1.Health/Check`.
public struct MethodPath: Hashable, Sendable, CustomStringConvertible {
    /// The fully qualified service name, `parley.v1.Health`.
    public let service: String
    /// The method name, `Check`.
    public let method: String
    /// `/service/method`, as carried in `Call.method`.
    public let path: String

    public init(service: String, method: String) {
        self.service = service
        self.method = method
        self.path = "/\(service)/\(method)"
    }

    /// Parses `/service/method`; nil when the text has another shape.
    public init?(path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
        self.init(service: String(parts[1]), method: String(parts[2]))
    }

    public var description: String { path }
}

/// Well-known keys of `Call.metadata`.
public enum MetadataKey {
    /// Makes a mutating call safe to retry: the same key and request return the stored outcome.
    public static let idempotencyKey = "idempotency-key"
    /// A caller-chosen id that appears in the server's logs for the call.
    public static let requestID = "request-id"
}

/// Protocol-wide constants.
public enum WireProtocol {
    /// The ALPN protocol id both ends negotiate.
    public static let alpn = "parley/1"
    /// Default upper bound for one frame's length, 4 MiB.
    public static let defaultMaxFrameBytes = 4 * 1024 * 1024
    /// Bytes in the length prefix.
    public static let lengthPrefixBytes = 4
}
