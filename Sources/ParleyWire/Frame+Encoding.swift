public import Foundation
public import NIOCore
public import ParleyProtos
public import SwiftProtobuf

extension ByteBuffer {
    /// Appends `frame` with its 4-byte length prefix.
    public mutating func writeFrame(_ frame: Parley_Wire_V1_Frame) throws {
        let bytes: [UInt8] = try frame.serializedBytes()
        reserveCapacity(minimumWritableBytes: WireProtocol.lengthPrefixBytes + bytes.count)
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }
}

extension Parley_Wire_V1_Frame {
    /// A Call frame.
    public static func call(
        id: UInt32,
        method: String,
        request: Data,
        timeoutMilliseconds: UInt32 = 0,
        metadata: [String: String] = [:]
    ) -> Self {
        var call = Parley_Wire_V1_Call()
        call.method = method
        call.request = request
        call.timeoutMs = timeoutMilliseconds
        call.metadata = metadata
        var frame = Self()
        frame.callID = id
        frame.kind = .call(call)
        return frame
    }

    /// A Reply frame; `status` is set only on the last reply of a call.
    public static func reply(id: UInt32, response: Data = Data(), status: Parley_Wire_V1_Status? = nil) -> Self {
        var reply = Parley_Wire_V1_Reply()
        reply.response = response
        if let status { reply.status = status }
        var frame = Self()
        frame.callID = id
        frame.kind = .reply(reply)
        return frame
    }

    /// The final Reply of a failed call.
    public static func reply(id: UInt32, error: RPCError) -> Self {
        Self.reply(id: id, status: error.status)
    }

    /// A Cancel frame for call `id`.
    public static func cancel(id: UInt32) -> Self {
        var frame = Self()
        frame.callID = id
        frame.kind = .cancel(Parley_Wire_V1_Cancel())
        return frame
    }

    /// A connection-level GoAway.
    public static func goAway(lastCallID: UInt32, status: Parley_Wire_V1_Status) -> Self {
        var goAway = Parley_Wire_V1_GoAway()
        goAway.lastCallID = lastCallID
        goAway.status = status
        var frame = Self()
        frame.kind = .goAway(goAway)
        return frame
    }

    public static func ping(nonce: UInt64) -> Self {
        var ping = Parley_Wire_V1_Ping()
        ping.nonce = nonce
        var frame = Self()
        frame.kind = .ping(ping)
        return frame
    }

    public static func pong(nonce: UInt64) -> Self {
        var pong = Parley_Wire_V1_Pong()
        pong.nonce = nonce
        var frame = Self()
        frame.kind = .pong(pong)
        return frame
    }
}

extension SwiftProtobuf.Message {
    /// Serialized with map entries in a stable order, so that equal messages
    /// give equal bytes (used to compare idempotent retries).
    public func deterministicBytes() throws -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return try serializedBytes(options: options)
    }
}
