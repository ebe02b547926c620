import Foundation

/// The simulated cluster of `testbed/cluster` as tests see it: the same
/// environment (VIGIL_CLUSTER_NET, VIGIL_CLUSTER_DIR) gives the same
/// addresses and state directory, and a host's daemons and guests are found
/// by their own pid files (not by the script's cgroups, so that the tests
/// check the script rather than repeat it).
public enum ClusterRig {
    /// First three octets of the hosts' loopback addresses.
    public static var net: String { environment("VIGIL_CLUSTER_NET") ?? "127.0.0" }
    public static var stateDirectory: String { environment("VIGIL_CLUSTER_DIR") ?? "/var/tmp/vigil-cluster" }

    /// Host I's address: NET.(I+1). Other numbers name further loopback
    /// addresses of the same rig (an etcd-like server on `address(10)`).
    public static func address(_ host: Int) -> String { "\(net).\(host + 1)" }
    public static func uri(_ host: Int) -> String { "qemu+tcp://\(address(host))/system" }
    /// libvirtd's TCP port on each host.
    public static let libvirtPort = 16509

    /// Runs `testbed/cluster ARGUMENTS` and returns its output.
    @discardableResult
    public static func run(_ arguments: [String], timeout: TimeInterval = 180) throws -> String {
        try Testbed.run("cluster", arguments, timeout: timeout)
    }

    /// Brings up hosts 1...count (hosts already up are kept); returns the shared storage directory.
    @discardableResult
    public static func up(_ count: Int) throws -> String {
        let status = try run(["up", "\(count)"])
        return status.split(separator: "\n").first { $0.hasPrefix("shared=") }
            .map { String($0.dropFirst("shared=".count)) } ?? stateDirectory + "/shared"
    }

    /// Host I's state words from `status`: "up" or "down", then "frozen" or "partitioned".
    public static func status(_ host: Int) throws -> [String] {
        let line = try run(["status"], timeout: 60).split(separator: "\n").first { $0.hasPrefix("host\(host) ") }
        return line.map { $0.split(separator: " ").dropFirst(3).map(String.init) } ?? []
    }

    /// The command that runs a command inside host I.
    public static func inside(_ host: Int) -> [String] { [Testbed.script("cluster"), "exec", "\(host)"] }

    /// Host I's libvirtd and virtlogd, from their pid files under the host's own /run.
    public static func daemons(_ host: Int) -> [ProcessIdentity] {
        ["libvirtd.pid", "virtlogd.pid"].compactMap { pidFile(host, "run/" + $0) }
    }

    /// The QEMU of guest NAME on host I, from libvirt's pid file for it.
    public static func qemu(_ host: Int, guest name: String) -> ProcessIdentity? {
        pidFile(host, "run/libvirt/qemu/\(name).pid")
    }

    /// Whether a TCP connection from inside host I (from the machine itself
    /// when nil) to ADDRESS:PORT is made within 2 s.
    public static func connects(from host: Int?, to address: String, port: Int) -> Bool {
        let socat = ["socat", "-u", "/dev/null", "TCP:\(address):\(port),connect-timeout=2"]
        let command = ["timeout", "5"] + (host.map { inside($0) } ?? []) + socat
        return (try? ProcessRunner.run(command, timeout: 10).status) == 0
    }

    /// Whether host I's libvirtd answers over TCP within 3 s (a frozen one accepts and never answers).
    public static func answers(_ host: Int) -> Bool {
        (try? ProcessRunner.run(["timeout", "3", "virsh", "-q", "-c", uri(host), "version"], timeout: 10).status) == 0
    }

    private static func pidFile(_ host: Int, _ path: String) -> ProcessIdentity? {
        let file = "\(stateDirectory)/host\(host)/\(path)"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        return ProcessIdentity(pid: pid)
    }

    private static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A process named by its pid and its start time (field 22 of
/// /proc/PID/stat), so that a recycled pid is not taken for it.
public struct ProcessIdentity: Sendable, Equatable, CustomStringConvertible {
    public let pid: Int32
    public let startTime: UInt64?

    /// The process that has `pid` now.
    public init(pid: Int32) {
        self.pid = pid
        startTime = Self.stat(pid).flatMap { $0.count > 19 ? UInt64($0[19]) : nil }
    }

    /// The kernel's state letter (R, S, D, T, Z, …) while this very process exists.
    public var state: Character? {
        guard let fields = Self.stat(pid), fields.count > 19, startTime != nil,
              UInt64(fields[19]) == startTime else { return nil }
        return fields[0].first
    }

    /// Gone, or dead and waiting for its parent to reap it.
    public var isDead: Bool { state.map { $0 == "Z" || $0 == "X" } ?? true }
    /// Runs or could run (not stopped, not dead).
    public var isLive: Bool { state.map { "RSD".contains($0) } ?? false }

    /// Its command name (/proc/PID/comm), nil once it is gone.
    public var command: String? {
        guard state != nil else { return nil }
        return (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var description: String { "\(pid) (\(command ?? "?"), state \(state.map(String.init) ?? "gone"))" }

    /// Fields of /proc/PID/stat after the command name: [0] is field 3 (state), [19] field 22 (start time).
    private static func stat(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}

/// A command left running in its own session (servers, readers), ended by
/// `stop()` with its whole process group.
public final class BackgroundCommand: @unchecked Sendable {
    public let pid: Int32

    /// Starts ARGUMENTS with stdin and stdout/stderr redirected (so that
    /// ProcessRunner does not wait for it).
    public init(_ arguments: [String], output: String = "/dev/null") throws {
        BrokenPipes.ignore()
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let r = try ProcessRunner.run(["bash", "-c", "setsid \(quoted) </dev/null >>'\(output)' 2>&1 & echo $!"], timeout: 10)
        guard r.status == 0, let pid = Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestbedError("cannot start \(arguments.joined(separator: " ")): \(r.stderr)")
        }
        self.pid = pid
    }

    public func stop() {
        // setsid made it a group leader: its pid is its group's id.
        Foundation.kill(-pid, SIGTERM)
        usleep(200_000)
        Foundation.kill(-pid, SIGKILL)
    }
}
