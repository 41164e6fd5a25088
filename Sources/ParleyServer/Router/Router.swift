public import ParleyPKI
public import ParleyWire
public import SwiftProtobuf
import Foundation

/// A service that contributes methods to the router (DESIGN §4: each
/// subsystem registers its methods; the connection layer only dispatches).
public protocol RegistrableService: Sendable {
    func registerMethods(with router: inout Router)
}

/// The table of methods the server answers: path, roles allowed, whether the
/// method mutates (and so honours `idempotency-key`), and the handler.
public struct Router: Sendable {
    private(set) var methods: [String: MethodDescriptor] = [:]

    public init() {}

    /// The registered method paths, sorted.
    public var paths: [String] { methods.keys.sorted() }

    func method(for path: String) -> MethodDescriptor? { methods[path] }

    /// Registers a unary method.
    ///
    /// - Parameters:
    ///   - roles: A caller needs at least one of these; others get
    ///     PERMISSION_DENIED. Empty: any authenticated caller.
    ///   - mutating: Mutating methods take `idempotency-key`: a retry with the
    ///     same key and request returns the stored outcome.
    public mutating func registerUnary<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>(
        _ path: MethodPath,
        request: Request.Type = Request.self,
        response: Response.Type = Response.self,
        roles: Set<Role>,
        mutating: Bool = false,
        handler: @escaping @Sendable (Request, CallContext) async throws -> Response
    ) {
        registerUnary(path, request: request, roles: roles, mutating: mutating, handler: handler, encode: { try $0.serializedBytes() })
    }

    /// Registers a unary method whose handler returns something other than
    /// the response message, and `encode` makes the response's bytes from
    /// it: for a handler that has the response's parts encoded already and
    /// can put them together instead of encoding the whole message again.
    /// `encode` runs where the handler's result is taken (the caller's
    /// event loop), so it should be cheap.
    public mutating func registerUnary<Request: SwiftProtobuf.Message & Sendable, Output: Sendable>(
        _ path: MethodPath,
        request: Request.Type = Request.self,
        roles: Set<Role>,
        mutating: Bool = false,
        handler: @escaping @Sendable (Request, CallContext) async throws -> Output,
        encode: @escaping @Sendable (Output) throws -> Data
    ) {
        let invoke: MethodDescriptor.Invoke = { bytes, context, sink, environment in
            let request: Request
            do {
                request = try Request(serializedBytes: bytes)
            } catch {
                sink.finish(.failure(RPCError(code: .invalidArgument, message: "request is not a \(Request.protoMessageName): \(error)")))
                return
            }
            let run: @Sendable (CallContext) async -> Result<Data, RPCError> = { context in
                do {
                    let response = try await handler(request, context)
                    // A method that committed its outcome returns exactly
                    // that response: its bytes are already made.
                    if let recorded = context.idempotentOutcome?.recordedPayload { return .success(recorded) }
                    return .success(try encode(response))
                } catch {
                    return .failure(environment.mapError(error, context: context))
                }
            }
            if mutating, let key = context.idempotencyKey, let gate = environment.idempotency {
                sink.finish(
                    await gate.run(context: context, key: key, request: request) { outcome in
                        var context = context
                        context.idempotentOutcome = outcome
                        return await run(context)
                    }
                )
            } else {
                sink.finish(await run(context))
            }
        }
        insert(MethodDescriptor(path: path, roles: roles, kind: .unary, isMutating: mutating, invoke: invoke))
    }

    /// Registers a server-streaming method: the handler sends any number of
    /// responses through the writer, then returns (OK) or throws (its status).
    public mutating func registerServerStreaming<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>(
        _ path: MethodPath,
        request: Request.Type = Request.self,
        response: Response.Type = Response.self,
        roles: Set<Role>,
        handler: @escaping @Sendable (Request, CallContext, ResponseStreamWriter<Response>) async throws -> Void
    ) {
        let invoke: MethodDescriptor.Invoke = { bytes, context, sink, environment in
            let request: Request
            do {
                request = try Request(serializedBytes: bytes)
            } catch {
                sink.finishStream(.failure(RPCError(code: .invalidArgument, message: "request is not a \(Request.protoMessageName): \(error)")))
                return
            }
            do {
                try await handler(request, context, ResponseStreamWriter(sink: sink))
                sink.finishStream(.success(()))
            } catch {
                sink.finishStream(.failure(environment.mapError(error, context: context)))
            }
        }
        insert(MethodDescriptor(path: path, roles: roles, kind: .serverStreaming, isMutating: false, invoke: invoke))
    }

    /// Registers every method of `service`.
    public mutating func register(_ service: some RegistrableService) {
        service.registerMethods(with: &self)
    }

    private mutating func insert(_ descriptor: MethodDescriptor) {
        precondition(methods[descriptor.path.path] == nil, "\(descriptor.path) is registered twice")
        methods[descriptor.path.path] = descriptor
    }
}

/// One registered method.
struct MethodDescriptor: Sendable {
    enum Kind: Sendable { case unary, serverStreaming }
    typealias Invoke = @Sendable (Data, CallContext, CallSink, CallEnvironment) async -> Void

    let path: MethodPath
    let roles: Set<Role>
    let kind: Kind
    let isMutating: Bool
    let invoke: Invoke
}

/// Sends a streaming method's responses. `send` waits while the connection
/// is not writable (TCP backpressure) and throws once the call has ended
/// (cancelled, deadline passed, connection gone).
public struct ResponseStreamWriter<Response: SwiftProtobuf.Message & Sendable>: Sendable {
    let sink: CallSink

    public func send(_ response: Response) async throws {
        try await sink.send(try response.serializedBytes())
    }
}
