import Foundation
import NIOCore
import NIOEmbedded
import NIOTestUtils
import ParleyProtos
import ParleyWire
import SwiftProtobuf
import Testing

@Suite("Frame decoder")
struct FrameDecoderTests {
    private func encoded(_ frames: [Parley_Wire_V1_Frame]) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for frame in frames { try buffer.writeFrame(frame) }
        return buffer
    }

    private let sample: [Parley_Wire_V1_Frame] = [
        .call(id: 1, method: "/parley.v1.Health/Check", request: Data([1, 2, 3]), timeoutMilliseconds: 500, metadata: ["request-id": "r1"]),
        .ping(nonce: 42),
        .reply(id: 1, response: Data(repeating: 7, count: 300), status: .ok),
        .cancel(id: 9),
    ]

    @Test("decodes frames split at every byte boundary and several in one read")
    func splitsAndMerges() throws {
        // The verifier feeds the input whole, byte by byte, and in random
        // chunks, and checks the same frames come out each time.
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (try encoded([sample[0]]), [sample[0]]),
                (try encoded(sample), sample),
            ],
            decoderFactory: { FrameDecoder(maxFrameBytes: 1024) }
        )
    }

    @Test("a zero length is refused")
    func zeroLength() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        #expect(throws: FrameDecodingError.emptyFrame) {
            try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 0]))
        }
    }

    @Test("a length over the limit is refused from the prefix alone, before any payload is buffered")
    func oversized() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1024)))
        #expect(throws: FrameDecodingError.frameTooLarge(length: 0x7fff_ffff, limit: 1024)) {
            try channel.writeInbound(ByteBuffer(bytes: [0x7f, 0xff, 0xff, 0xff]))
        }
        #expect(FrameDecodingError.frameTooLarge(length: 2048, limit: 1024).rpcError.code == .resourceExhausted)
    }

    @Test("the largest allowed frame passes; one byte more does not")
    func boundary() throws {
        var frame = Parley_Wire_V1_Frame.reply(id: 1, response: Data(repeating: 1, count: 100))
        let size = try (frame.serializedBytes() as [UInt8]).count
        let exact = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: size)))
        try exact.writeInbound(try encoded([frame]))
        #expect(try exact.readInbound(as: Parley_Wire_V1_Frame.self) == frame)

        frame = .reply(id: 1, response: Data(repeating: 1, count: 101))
        let over = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: size)))
        #expect(throws: FrameDecodingError.self) { try over.writeInbound(try encoded([frame])) }
    }

    @Test("garbage bytes are not a frame")
    func garbage() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        // Length 4, then a field with wire type 7 (invalid in protobuf).
        #expect(throws: FrameDecodingError.self) {
            try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]))
        }
    }

    @Test("reports when a frame starts and finishes arriving")
    func partialFrameEvents() throws {
        final class EventRecorder: ChannelInboundHandler, @unchecked Sendable {
            typealias InboundIn = Parley_Wire_V1_Frame
            var events: [PartialFrameEvent] = []
            func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
                if let event = event as? PartialFrameEvent { events.append(event) }
            }
        }
        let recorder = EventRecorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        try channel.pipeline.syncOperations.addHandler(recorder)
        var bytes = try encoded([sample[1]])
        let head = bytes.readSlice(length: 2)!
        try channel.writeInbound(head)
        #expect(recorder.events == [.started])
        try channel.writeInbound(bytes)
        #expect(recorder.events == [.started, .finished])
    }
}

@Suite("RPC errors")
struct RPCErrorTests {
    @Test("status round trip keeps code, message, violations and retry hint")
    func roundTrip() {
        let error = RPCError(
            code: .resourceExhausted,
            message: "busy",
            violations: [FieldViolation(field: "lines[2].quantity", description: "must be positive")],
            retryAfterMilliseconds: 50
        )
        #expect(RPCError(status: error.status) == error)
        #expect(RPCError(status: .ok) == nil)
    }

    @Test("method paths parse only /service/method")
    func methodPaths() {
        #expect(MethodPath(path: "/parley.v1.Health/Check") == MethodPath(service: "parley.v1.Health", method: "Check"))
        #expect(MethodPath(path: "parley.v1.Health/Check") == nil)
        #expect(MethodPath(path: "/a/b/c") == nil)
        #expect(MethodPath(path: "//Check") == nil)
    }
}
