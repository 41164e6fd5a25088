import ArgumentParser
import Foundation
import ParleyClient
import ParleyProtos
import ParleyWire

extension Parley.Warehouse {
    /// `parley warehouse verify-acks FILE`: checks an acknowledgement log
    /// written by `parley-load --ack-log` against the daemon, after a crash.
    ///
    /// Every `held ID` must exist (in any state: a settlement may have
    /// committed without its reply arriving); every `confirmed ID` must be
    /// CONFIRMED and every `released ID` RELEASED.
    struct VerifyAcks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-acks",
            abstract: "Check that every acknowledged reservation outcome in a parley-load --ack-log file survived."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The acknowledgement log.") var file: String
        @Option(help: "Reservations checked at once.") var concurrency = 32

        enum Acknowledged: String { case held, confirmed, released }

        func run() async throws {
            let text: String
            do {
                text = try String(contentsOf: URL(fileURLWithPath: file), encoding: .utf8)
            } catch {
                throw CLIError("cannot read \(file): \(error.localizedDescription)")
            }
            var expected: [String: Acknowledged] = [:]
            for (number, line) in text.split(separator: "\n").enumerated() {
                let parts = line.split(separator: " ")
                guard parts.count == 2, let kind = Acknowledged(rawValue: String(parts[0])) else {
                    throw CLIError("\(file):\(number + 1): expected 'held|confirmed|released ID', got '\(line)'")
                }
                let id = String(parts[1])
                // A settlement acknowledgement supersedes the hold's.
                if kind != .held || expected[id] == nil { expected[id] = kind }
            }
            let ids = Array(expected.keys).sorted()
            let problems = try await withClient(connection) { client in
                try await withThrowingTaskGroup(of: String?.self) { group in
                    var next = 0
                    var problems: [String] = []
                    func add() {
                        guard next < ids.count else { return }
                        let id = ids[next]
                        let want = expected[id]!
                        next += 1
                        group.addTask {
                            var request = Parley_V1_GetReservationRequest()
                            request.id = id
                            let reservation: Parley_V1_Reservation
                            do {
                                reservation = try await client.unary(
                                    MethodPath(service: "parley.v1.Warehouse", method: "GetReservation"),
                                    request,
                                    as: Parley_V1_Reservation.self
                                )
                            } catch let error as RPCError where error.code == .notFound {
                                return "\(id): acknowledged \(want.rawValue) but missing"
                            }
                            switch (want, reservation.state) {
                            case (.held, .held), (.held, .confirmed), (.held, .released), (.held, .expired),
                                (.confirmed, .confirmed), (.released, .released):
                                return nil
                            default:
                                return "\(id): acknowledged \(want.rawValue) but the daemon says \(reservation.state)"
                            }
                        }
                    }
                    for _ in 0..<max(1, concurrency) { add() }
                    while let result = try await group.next() {
                        if let result { problems.append(result) }
                        add()
                    }
                    return problems
                }
            }
            let counts = Dictionary(grouping: expected.values, by: { $0 }).mapValues(\.count)
            let summary = "\(ids.count) reservations (\(counts[.held] ?? 0) last acknowledged held, \(counts[.confirmed] ?? 0) confirmed, \(counts[.released] ?? 0) released)"
            guard problems.isEmpty else {
                for problem in problems.sorted().prefix(50) { print(problem) }
                throw CLIError("\(problems.count) of \(summary) did not survive as acknowledged")
            }
            print("verified \(summary): all present in their acknowledged state")
        }
    }
}
