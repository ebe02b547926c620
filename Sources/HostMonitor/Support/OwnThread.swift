import Foundation

/// Runs one blocking call on a thread of its own. For calls a guest can
/// make slow (a hung qemu-guest-agent holds libvirt's agent command for up
/// to its 5 s sync timeout): on a shared pool, a few hung guests would delay
/// every other guest's heartbeat; here each waits only for itself.
enum OwnThread {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
