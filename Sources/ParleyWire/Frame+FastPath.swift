public import NIOCore

/// Hand-written encodings of the two frames on every call's path — a Call,
/// and a Reply that ends OK or streams a message — so that the payload is
/// copied once, straight into the outgoing buffer, instead of through an
/// intermediate message. The bytes are exactly what swift-protobuf writes
/// for the same frame (a test holds them to that); every other frame goes
/// through the generated code.
extension ByteBuffer {
    /// Appends a Reply frame for `callID` carrying `response`; with `final`,
    /// also the OK status that ends the call.
    public mutating func writeReplyFrame(callID: UInt32, response: some Collection<UInt8>, final: Bool) {
        let responseCount = response.count
        // Reply { 1: response (omitted when empty), 2: status {} (final only) }
        var replyLength = 0
        if responseCount > 0 { replyLength += 1 + Self.varintSize(UInt64(responseCount)) + responseCount }
        if final { replyLength += 2 }
        // Frame { 1: call_id (omitted when 0), 3: reply }
        var frameLength = 1 + Self.varintSize(UInt64(replyLength)) + replyLength
        if callID != 0 { frameLength += 1 + Self.varintSize(UInt64(callID)) }
        reserveCapacity(minimumWritableBytes: WireProtocol.lengthPrefixBytes + frameLength)
        writeInteger(UInt32(frameLength))
        if callID != 0 {
            writeInteger(UInt8(0x08))
            writeVarint(UInt64(callID))
        }
        writeInteger(UInt8(0x1A))
        writeVarint(UInt64(replyLength))
        if responseCount > 0 {
            writeInteger(UInt8(0x0A))
            writeVarint(UInt64(responseCount))
            writeBytes(response)
        }
        if final {
            writeInteger(UInt8(0x12))
            writeInteger(UInt8(0x00))
        }
    }

    /// Appends a Call frame. Metadata entries are written in sorted key order.
    public mutating func writeCallFrame(
        callID: UInt32,
        method: String,
        request: some Collection<UInt8>,
        timeoutMilliseconds: UInt32,
        metadata: [String: String]
    ) {
        let methodCount = method.utf8.count
        let requestCount = request.count
        var callLength = 0
        if methodCount > 0 { callLength += 1 + Self.varintSize(UInt64(methodCount)) + methodCount }
        if requestCount > 0 { callLength += 1 + Self.varintSize(UInt64(requestCount)) + requestCount }
        if timeoutMilliseconds > 0 { callLength += 1 + Self.varintSize(UInt64(timeoutMilliseconds)) }
        let entries = metadata.sorted { $0.key < $1.key }
        for (key, value) in entries {
            let entryLength = Self.mapStringFieldSize(key) + Self.mapStringFieldSize(value)
            callLength += 1 + Self.varintSize(UInt64(entryLength)) + entryLength
        }
        var frameLength = 1 + Self.varintSize(UInt64(callLength)) + callLength
        if callID != 0 { frameLength += 1 + Self.varintSize(UInt64(callID)) }
        reserveCapacity(minimumWritableBytes: WireProtocol.lengthPrefixBytes + frameLength)
        writeInteger(UInt32(frameLength))
        if callID != 0 {
            writeInteger(UInt8(0x08))
            writeVarint(UInt64(callID))
        }
        writeInteger(UInt8(0x12))
        writeVarint(UInt64(callLength))
        if methodCount > 0 {
            writeInteger(UInt8(0x0A))
            writeVarint(UInt64(methodCount))
            writeString(method)
        }
        if requestCount > 0 {
            writeInteger(UInt8(0x12))
            writeVarint(UInt64(requestCount))
            writeBytes(request)
        }
        if timeoutMilliseconds > 0 {
            writeInteger(UInt8(0x18))
            writeVarint(UInt64(timeoutMilliseconds))
        }
        for (key, value) in entries {
            // A map entry is a message { 1: key, 2: value }; like
            // swift-protobuf, both fields are written even when empty.
            let entryLength = Self.mapStringFieldSize(key) + Self.mapStringFieldSize(value)
            writeInteger(UInt8(0x22))
            writeVarint(UInt64(entryLength))
            writeMapStringField(0x0A, key)
            writeMapStringField(0x12, value)
        }
    }

    private mutating func writeMapStringField(_ tag: UInt8, _ value: String) {
        writeInteger(tag)
        writeVarint(UInt64(value.utf8.count))
        writeString(value)
    }

    private static func mapStringFieldSize(_ value: String) -> Int {
        let count = value.utf8.count
        return 1 + varintSize(UInt64(count)) + count
    }

    private mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        writeInteger(UInt8(value))
    }

    private static func varintSize(_ value: UInt64) -> Int {
        var value = value
        var size = 1
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }
}
