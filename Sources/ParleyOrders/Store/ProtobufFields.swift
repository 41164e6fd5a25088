import Foundation

/// Top-level fields of a protobuf binary encoding, read and written without
/// decoding or encoding a message: for putting a reply together from parts
/// that are encoded already (``CaptureReply``).
enum ProtobufFields {
    /// The payload of field `number` at the top level of `bytes`, if it
    /// occurs there length-delimited (its last occurrence); nil when it does
    /// not, or when `bytes` is not a well-formed encoding.
    static func lengthDelimited(_ number: UInt64, in bytes: Data) -> Data? {
        var found: Range<Data.Index>?
        var index = bytes.startIndex
        while index < bytes.endIndex {
            guard let key = varint(bytes, &index) else { return nil }
            switch key & 7 {
            case 0:
                guard varint(bytes, &index) != nil else { return nil }
            case 1:
                guard bytes.endIndex - index >= 8 else { return nil }
                index += 8
            case 2:
                guard let length = varint(bytes, &index), length <= UInt64(bytes.endIndex - index) else { return nil }
                let end = index + Int(length)
                if key >> 3 == number { found = index..<end }
                index = end
            case 5:
                guard bytes.endIndex - index >= 4 else { return nil }
                index += 4
            default:
                // Groups (3, 4) are not in proto3; 6 and 7 are not wire types.
                return nil
            }
        }
        return found.map { bytes[$0] }
    }

    /// Appends field `number`, length-delimited, with `payload`.
    static func appendLengthDelimited(_ number: UInt64, _ payload: Data, to bytes: inout Data) {
        appendVarint(number << 3 | 2, to: &bytes)
        appendVarint(UInt64(payload.count), to: &bytes)
        bytes.append(payload)
    }

    private static func varint(_ bytes: Data, _ index: inout Data.Index) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.endIndex, shift < 64 {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout Data) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
