public import NIOCore
public import ParleyProtos
import SwiftProtobuf

/// Splits a byte stream into ``Parley_Wire_V1_Frame``s: a 4-byte big-endian
/// length `L` (`1 <= L <= maxFrameBytes`), then `L` bytes of one serialized
/// frame.
///
/// The length is checked before any byte of the frame is buffered for it, so
/// a peer cannot make the decoder allocate more than `maxFrameBytes`.
///
/// Besides frames, the decoder reports with a ``PartialFrameEvent`` user event
/// when a frame starts arriving and when it completes, so that a handler
/// behind it can time out a peer that stalls in the middle of a frame.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Parley_Wire_V1_Frame

    /// The largest frame accepted.
    public let maxFrameBytes: Int
    private var partial = false

    public init(maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes) {
        precondition(maxFrameBytes >= 1 && maxFrameBytes <= Int(UInt32.max))
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
            markPartial(buffer.readableBytes > 0, context: context)
            return .needMoreData
        }
        guard length >= 1 else {
            throw FrameDecodingError.emptyFrame
        }
        guard Int(length) <= maxFrameBytes else {
            throw FrameDecodingError.frameTooLarge(length: Int(length), limit: maxFrameBytes)
        }
        let total = WireProtocol.lengthPrefixBytes + Int(length)
        guard buffer.readableBytes >= total else {
            markPartial(true, context: context)
            return .needMoreData
        }
        let frame: Parley_Wire_V1_Frame
        do {
            frame = try buffer.withUnsafeReadableBytes { bytes in
                try Parley_Wire_V1_Frame(
                    serializedBytes: UnsafeRawBufferPointer(rebasing: bytes[WireProtocol.lengthPrefixBytes..<total]).bytes
                )
            }
        } catch {
            throw FrameDecodingError.undecodableFrame(description: String(describing: error))
        }
        buffer.moveReaderIndex(forwardBy: total)
        // Every completed frame restarts the clock for the next one, so a
        // steady stream of frames never looks like a stalled one.
        markPartial(false, context: context)
        markPartial(buffer.readableBytes > 0, context: context)
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // A connection that ends mid-frame just ends; there is nobody left to answer.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    private mutating func markPartial(_ nowPartial: Bool, context: ChannelHandlerContext) {
        guard nowPartial != partial else { return }
        partial = nowPartial
        context.fireUserInboundEventTriggered(nowPartial ? PartialFrameEvent.started : PartialFrameEvent.finished)
    }
}

/// Sent up the pipeline by ``FrameDecoder``: `started` when bytes of an
/// incomplete frame are buffered, `finished` when the input is back on a frame
/// boundary.
public enum PartialFrameEvent: Sendable, Hashable {
    case started
    case finished
}

/// Why the byte stream could not be split into frames. Every case ends the
/// connection with a GoAway carrying ``rpcError``.
public enum FrameDecodingError: Error, Hashable, RPCErrorConvertible {
    case emptyFrame
    case frameTooLarge(length: Int, limit: Int)
    case undecodableFrame(description: String)

    public var rpcError: RPCError {
        switch self {
        case .emptyFrame:
            RPCError(code: .invalidArgument, message: "frame length 0 is not allowed")
        case .frameTooLarge(let length, let limit):
            RPCError(code: .resourceExhausted, message: "frame of \(length) bytes exceeds the limit of \(limit) bytes")
        case .undecodableFrame(let description):
            RPCError(code: .invalidArgument, message: "frame is not a parley.wire.v1.Frame: \(description)")
        }
    }
}
