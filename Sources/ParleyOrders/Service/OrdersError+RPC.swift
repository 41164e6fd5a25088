import ParleyWire

extension OrdersError.Code {
    /// No such merchant, order or item visible to the caller.
    public static let notFound = OrdersError.Code(rawValue: "NOT_FOUND")
    /// The caller may not act for that merchant.
    public static let permissionDenied = OrdersError.Code(rawValue: "PERMISSION_DENIED")
    /// The order id was used for another request.
    public static let failedPrecondition = OrdersError.Code(rawValue: "FAILED_PRECONDITION")
}

extension OrdersError: RPCErrorConvertible {
    /// One wire status per code; a field, when there is one, is named in
    /// `violations` as well as in the message.
    public var rpcError: RPCError {
        let code: RPCError.Code =
            switch self.code {
            case .notFound: .notFound
            case .permissionDenied: .permissionDenied
            case .failedPrecondition: .failedPrecondition
            case .overflow: .outOfRange
            default: .invalidArgument
            }
        guard let field else { return RPCError(code: code, message: message) }
        return RPCError(code: code, message: "\(field): \(message)", violations: [FieldViolation(field: field, description: message)])
    }
}
