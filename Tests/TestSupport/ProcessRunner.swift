import Foundation

/// The result of running a command to completion.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

public enum ProcessRunner {
    /// Runs a command for its exit status only (cleanup, where a failure is no error).
    @discardableResult
    public static func runQuietly(_ arguments: [String]) -> Int32 {
        (try? run(arguments, timeout: 60))?.status ?? -1
    }

    /// Runs `arguments` (first is the executable path, or a name on PATH) and waits.
    ///
    /// Uses posix_spawn and waitpid, not Foundation's Process: on Linux,
    /// Process.waitUntilExit can hang for good when the child leaves
    /// daemons behind (testbed/cluster starts libvirtds).
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String]? = nil,
                           timeout: TimeInterval = 120) throws -> CommandResult {
        BrokenPipes.ignore()
        let argv = arguments[0].contains("/") ? arguments : ["/usr/bin/env"] + arguments
        let env = ProcessInfo.processInfo.environment.merging(environment ?? [:]) { $1 }.map { "\($0)=\($1)" }
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw TestbedError("pipe failed: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(env) { cenv in posix_spawn(&pid, argv[0], &actions, nil, cargv, cenv) }
        }
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw TestbedError("cannot run \(argv[0]): \(String(cString: strerror(rc)))")
        }
        // Read both pipes concurrently so a chatty child cannot block on a full
        // pipe; on threads of their own: GCD's global queue is as wide as the
        // machine has cores, and blocking reads from parallel tests would
        // queue behind each other there.
        let group = DispatchGroup()
        let output = OutputBox()
        let outFD = outPipe[0], errFD = errPipe[0]
        group.enter()
        group.enter()
        Thread.detachNewThread { output.set(out: readAll(outFD)); group.leave() }
        Thread.detachNewThread { output.set(err: readAll(errFD)); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { break }
            if Date() >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            usleep(10_000)
        }
        // A daemon the child left behind may still hold the pipes: give the
        // readers a moment, then stop waiting for them.
        _ = group.wait(timeout: .now() + 2)
        let exit: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let (outData, errData) = output.get()
        return CommandResult(status: exit, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }

    private final class OutputBox: @unchecked Sendable {
        private let lock = NSLock()
        private var out = Data(), err = Data()
        func set(out d: Data) { lock.withLock { out = d } }
        func set(err d: Data) { lock.withLock { err = d } }
        func get() -> (Data, Data) { lock.withLock { (out, err) } }
    }

    private static func readAll(_ fd: Int32) -> Data {
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { data.append(contentsOf: buffer[0..<n]) } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return data
    }

    static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}

/// Where `swift build` put the package's executables: next to the test bundle.
public enum BuiltProducts {
    public static func path(_ name: String) -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The runner may live inside a .xctest bundle directory.
        while dir.lastPathComponent.hasSuffix(".xctest") || dir.path.contains(".xctest/") {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent(name).path
    }

    /// The repository root (for testbed scripts).
    public static var repositoryRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url = url.deletingLastPathComponent() }
        return url.path
    }
}

/// A fresh temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ prefix: String = "vigil-test") throws {
        BrokenPipes.ignore()
        // Short paths: unix socket paths must fit in 108 bytes.
        path = "/tmp/\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
