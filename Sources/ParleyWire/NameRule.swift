/// The rule for names on the wire (merchants, SKUs, order and reservation
/// ids): not empty, at most 128 bytes of UTF-8, no line break or NUL. One
/// rule, so that a name one subsystem stores is one the others accept.
public enum NameRule {
    /// The most UTF-8 bytes a name may have.
    public static let maxBytes = 128

    /// What is wrong with `value` as a name, for a violation's description;
    /// nil when it is a valid name.
    public static func problem(_ value: String) -> String? {
        if value.isEmpty { return "must not be empty" }
        if value.utf8.count > maxBytes { return "at most \(maxBytes) bytes" }
        if value.contains(where: { $0.isNewline || $0 == "\u{0}" }) { return "must not contain control characters" }
        return nil
    }
}
