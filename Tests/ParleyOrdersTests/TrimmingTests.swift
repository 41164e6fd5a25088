@testable import ParleyOrders
import Testing

@Suite("Trimming")
struct TrimmingTests {
    @Test("spaces, tabs and newlines come off both ends, and only there, on the fast path and the slow one", arguments: [
        ("98101", "98101"), (" 98101", "98101"), ("98101 ", "98101"), ("\t98101\n", "98101"),
        ("New York", "New York"), ("  New York  ", "New York"), ("a", "a"), ("", ""), ("   ", ""),
        ("Zürich", "Zürich"), (" Zürich ", "Zürich"), ("\u{00A0}Köln\u{3000}", "Köln"), ("é", "é"),
    ])
    func trims(_ input: String, _ expected: String) {
        #expect(input.trimmingSpaces == expected)
    }
}
