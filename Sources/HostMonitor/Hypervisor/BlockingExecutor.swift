import NIOPosix

/// Runs blocking libvirt calls (each one an RPC to libvirtd) on their own
/// threads, so they never tie up Swift concurrency's small cooperative pool.
public final class BlockingExecutor: Sendable {
    private let pool: NIOThreadPool

    public init(threads: Int = 4) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    public func shutdown() async throws {
        try await pool.shutdownGracefully()
    }
}
