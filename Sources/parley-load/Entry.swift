import ArgumentParser
import Dispatch
import Foundation
import NIOCore
import NIOPosix

/// The process entry point.
///
/// `ParleyLoad` is an `AsyncParsableCommand`, whose `main()` is async: by the
/// time it runs, Swift Concurrency has already started. NIO's singleton event
/// loop group can only become the global executor from the main thread before
/// any async work, so this synchronous `main()` installs it first, then starts
/// the command in a task (which now runs on NIO's threads) and parks the main
/// thread in `dispatchMain()`, which also serves the main queue should anything
/// need the main actor. The command ends the process itself: ArgumentParser
/// calls `exit` on errors (including `ExitCode.failure`), and a normal return
/// exits with 0 here.
@main
enum Entry {
    static func main() {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        Task {
            await ParleyLoad.main()
            exit(0)
        }
        dispatchMain()
    }
}
