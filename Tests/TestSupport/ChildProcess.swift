import Foundation

/// A long-running child (vigild) started with posix_spawn, its output
/// appended to a file: waited for with waitpid, never through Foundation's
/// Process (whose waitUntilExit can hang on Linux when daemons linger).
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `arguments` (the first is the executable's path) with stdin
    /// from /dev/null and stdout and stderr appended to `logPath`.
    public init(_ arguments: [String], logPath: String) throws {
        BrokenPipes.ignore()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let env = ProcessInfo.processInfo.environment.map { "\($0)=\($1)" }
        var child: pid_t = 0
        let rc = ProcessRunner.withCStrings(arguments) { argv in
            ProcessRunner.withCStrings(env) { envp in posix_spawn(&child, arguments[0], &actions, nil, argv, envp) }
        }
        guard rc == 0 else { throw TestbedError("cannot run \(arguments[0]): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Whether it still runs (reaps it once it has ended).
    public var isRunning: Bool {
        lock.withLock {
            guard exitStatus == nil else { return false }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { exitStatus = Self.decode(status) }
            return exitStatus == nil
        }
    }

    /// Sends `signal` and waits for the exit; returns the exit status
    /// (128 + N for death by signal N).
    @discardableResult
    public func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        lock.withLock {
            if let exitStatus { return exitStatus }
            Foundation.kill(pid, signal)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let code = Self.decode(status)
            exitStatus = code
            return code
        }
    }

    private static func decode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
