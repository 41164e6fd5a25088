import Foundation
import NIOCore
import ParleyProtos
import ParleyWire
import SwiftProtobuf
import Testing

/// The hand-written encodings must be byte-for-byte what swift-protobuf
/// writes, so any protobuf implementation reads them.
@Suite("Fast-path frame encodings")
struct FastPathEncodingTests {
    private func generated(_ frame: Parley_Wire_V1_Frame) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try buffer.writeFrame(frame)
        return buffer
    }

    @Test(
        "Reply frames",
        arguments: [UInt32(0), 1, 127, 128, 300, UInt32.max],
        [0, 1, 127, 128, 20_000]
    )
    func replies(callID: UInt32, responseBytes: Int) throws {
        let response = Data((0..<responseBytes).map { UInt8(truncatingIfNeeded: $0) })
        for final in [false, true] {
            var fast = ByteBuffer()
            fast.writeReplyFrame(callID: callID, response: response, final: final)
            let expected = try generated(.reply(id: callID, response: response, status: final ? .ok : nil))
            #expect(fast == expected, "callID \(callID), \(responseBytes) bytes, final \(final)")
        }
    }

    @Test("Call frames", arguments: [
        (UInt32(1), "/parley.v1.Health/Check", 0, UInt32(0), [:]),
        (UInt32(200), "/parley.v1.Orders/Negotiate", 300, UInt32(30_000), ["idempotency-key": "k-1", "request-id": "r"]),
        (UInt32.max, "", 5, UInt32.max, ["": "empty key", "empty value": ""]),
    ] as [(UInt32, String, Int, UInt32, [String: String])])
    func calls(callID: UInt32, method: String, requestBytes: Int, timeout: UInt32, metadata: [String: String]) throws {
        let request = Data(repeating: 7, count: requestBytes)
        var fast = ByteBuffer()
        fast.writeCallFrame(callID: callID, method: method, request: request, timeoutMilliseconds: timeout, metadata: metadata)
        // Map order is not fixed by protobuf; compare decoded, then bytes with deterministic order.
        let length = try #require(fast.getInteger(at: 0, as: UInt32.self))
        let decoded = try Parley_Wire_V1_Frame(serializedBytes: Array(fast.readableBytesView.dropFirst(4)))
        let expected = Parley_Wire_V1_Frame.call(id: callID, method: method, request: request, timeoutMilliseconds: timeout, metadata: metadata)
        #expect(decoded == expected)
        #expect(Int(length) == fast.readableBytes - 4)
        #expect(Array(fast.readableBytesView.dropFirst(4)) == (try expected.deterministicBytes()))
    }
}
