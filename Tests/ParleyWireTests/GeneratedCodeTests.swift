import Crypto
import Foundation
import Testing

/// The committed Swift in Sources/ParleyProtos must be what tools/gen-protos
/// makes from Protos/: the manifest it writes records a checksum of every
/// proto and every generated file. Editing a proto without regenerating, or
/// editing generated code by hand, fails here.
@Suite("Generated code")
struct GeneratedCodeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("matches Protos/ (run tools/gen-protos after changing a proto)")
    func manifestMatches() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Sources/ParleyProtos/generated.sha256"), encoding: .utf8)
        var listed = Set<String>()
        for line in manifest.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            try #require(parts.count == 2)
            let path = String(parts[1])
            listed.insert(path)
            let data = try Data(contentsOf: Self.root.appendingPathComponent(path))
            let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            #expect(digest == String(parts[0]), "\(path) changed since tools/gen-protos last ran")
        }
        // Every proto is covered, so a new one cannot be forgotten.
        let protos = FileManager.default.enumerator(atPath: Self.root.appendingPathComponent("Protos").path)?
            .compactMap { $0 as? String }
            .filter { $0.hasSuffix(".proto") }
            .map { "Protos/\($0)" } ?? []
        #expect(!protos.isEmpty)
        for proto in protos { #expect(listed.contains(proto), "\(proto) is not in the manifest: run tools/gen-protos") }
    }
}
