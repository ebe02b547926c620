import Foundation

/// A vigild child process with its own state directory and API socket.
public final class DaemonProcess: @unchecked Sendable {
    public let process: ChildProcess
    public let socketPath: String
    public let stateDirectory: String
    public let logPath: String
    /// vigild's config file (`--config`): empty unless the test gives one,
    /// so a host's /etc/vigil/vigild.yaml never reaches a test's vigild.
    public let configPath: String

    /// Starts vigild and waits until its API answers.
    public init(connect uri: String, directory: TemporaryDirectory, extraArguments: [String] = [],
                namespaceCommand: [String] = [], waitForLibvirt: Bool = true, configYAML: String = "") throws {
        socketPath = directory.path + "/api.sock"
        stateDirectory = directory.path + "/state"
        logPath = directory.path + "/vigild.log"
        configPath = directory.path + "/vigild.yaml"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        try configYAML.write(toFile: configPath, atomically: true, encoding: .utf8)
        let args = [BuiltProducts.path("vigild"), "--config", configPath, "--connect", uri, "--state-dir", stateDirectory,
                    "--socket", socketPath] + extraArguments
        let full = namespaceCommand + args
        process = try ChildProcess(full, logPath: logPath)
        try waitUntilServing(libvirt: waitForLibvirt)
    }

    /// Waits for the API socket, and (with `libvirt`) for the libvirt connection.
    public func waitUntilServing(libvirt: Bool = true, timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !process.isRunning { throw DaemonProcessError.exited(log) }
            if libvirt {
                if let r = try? vigil(["host", "info", "--json"]), r.status == 0 { return }
            } else if FileManager.default.fileExists(atPath: socketPath) {
                return
            }
            usleep(100_000)
        }
        throw DaemonProcessError.notServing(log)
    }

    /// Runs the `vigil` CLI against this daemon.
    @discardableResult
    public func vigil(_ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try ProcessRunner.run([BuiltProducts.path("vigil"), "--socket", socketPath] + arguments, timeout: timeout)
    }

    /// Sends SIGTERM and returns the exit status.
    @discardableResult
    public func stop() -> Int32 { process.stop(SIGTERM) }

    /// SIGHUP: vigild reads its config file again.
    public func reload() { Foundation.kill(process.pid, SIGHUP) }

    /// SIGKILL: an abrupt death, as after a crash.
    public func kill() { process.stop(SIGKILL) }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit { kill() }
}

public enum DaemonProcessError: Error, CustomStringConvertible {
    case exited(String)
    case notServing(String)
    public var description: String {
        switch self {
        case .exited(let log): "vigild exited early; log:\n\(log)"
        case .notServing(let log): "vigild did not start serving; log:\n\(log)"
        }
    }
}
