import Foundation
import Libvirt

/// A real QEMU guest built from the test image, defined on a libvirt
/// connection, with its own qcow2 overlay and control shell.
public final class TestGuest: @unchecked Sendable {
    public let name: String
    public let directory: TemporaryDirectory
    public let controlSocket: String
    public let consoleLog: String
    public let diskPath: String
    public let domain: Domain

    /// - Parameters:
    ///   - diskDirectory: where the overlay goes (shared storage for migration).
    ///   - controlSocket: false for guests that migrate (the socket path must
    ///     be free on the destination host).
    public init(on connection: Connection, name: String = "vt-\(UUID().uuidString.prefix(6).lowercased())",
                diskDirectory: String? = nil, controlSocket wantControl: Bool = true,
                extraArguments: [String] = []) throws {
        let image = try Testbed.requireImage()
        self.name = name
        directory = try TemporaryDirectory("vg")
        controlSocket = directory.path + "/ctl.sock"
        consoleLog = (diskDirectory ?? directory.path) + "/\(name)-console.log"
        diskPath = (diskDirectory ?? directory.path) + "/\(name).qcow2"
        let img = try ProcessRunner.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                                         "-b", image + "/data.qcow2", diskPath])
        guard img.status == 0 else { throw TestbedError("qemu-img create failed: \(img.stderr)") }
        var args = ["--name", name, "--image", image, "--disk", diskPath, "--console-log", consoleLog]
        if wantControl { args += ["--control-socket", controlSocket] }
        let xml = try Testbed.run("guest-xml", args + extraArguments)
        domain = try connection.define(xml: xml)
    }

    public func start() throws { try domain.create() }

    /// Runs a shell command in the guest and returns its output.
    public func run(_ command: String, timeout: Int = 30) throws -> CommandResult {
        try Self.run(controlSocket, command, timeout: timeout)
    }

    /// `reset`: bring the shell to a clean prompt first (guest-run --reset), for waits after a boot.
    public static func run(_ socket: String, _ command: String, timeout: Int = 30, reset: Bool = false) throws -> CommandResult {
        try ProcessRunner.run([Testbed.script("guest-run")] + (reset ? ["--reset"] : []) + [socket, command],
                              environment: ["GUEST_RUN_TIMEOUT": "\(timeout)"], timeout: TimeInterval(timeout + 5))
    }

    /// Sends a command without waiting for it to finish (e.g. a panic trigger).
    public func trigger(_ command: String) throws {
        let r = try ProcessRunner.run([Testbed.script("guest-run"), "--no-wait", controlSocket, command], timeout: 30)
        guard r.status == 0 else { throw TestbedError("guest-run --no-wait failed: \(r.stderr)") }
    }

    /// Waits until the guest's control shell answers, each try starting
    /// from a clean prompt (a boot may have cut an earlier command mid-line).
    public func waitForShell(timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let r = try? Self.run(controlSocket, "echo ready", timeout: 5, reset: true), r.status == 0, r.stdout.contains("ready") { return }
            usleep(200_000)
        }
        throw TestbedError("guest \(name) shell did not answer within \(Int(timeout)) s; console:\n\(console)")
    }

    public var console: String { (try? String(contentsOfFile: consoleLog, encoding: .utf8)) ?? "" }

    /// Powers off and removes the domain and its disk.
    public func remove() {
        // The connection may have died under the test (libvirtd restart).
        let live = domain.connection.isAlive ? domain
            : (try? Connection(uri: domain.connection.uri).domain(uuid: domain.uuid))
        try? live?.destroy()
        try? live?.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata])
        try? FileManager.default.removeItem(atPath: diskPath)
        try? FileManager.default.removeItem(atPath: consoleLog)
        directory.remove()
    }
}
