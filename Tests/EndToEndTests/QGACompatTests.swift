import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// vigil-agent --qga serving the qemu-guest-agent protocol, with libvirt's
/// own virsh as the client.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct QGACompatTests {
    static func virsh(_ args: [String]) throws -> CommandResult {
        try ProcessRunner.run(["virsh", "-c", "qemu:///system"] + args, timeout: 60)
    }

    /// A guest whose qemu-guest-agent channel is served by vigil-agent.
    static func guest(_ extra: [String] = ["--qga-channel"]) async throws -> TestGuest {
        let conn = try Connection(uri: "qemu:///system")
        let guest = try TestGuest(on: conn, extraArguments: extra + ["--agent-args", "--qga"])
        try guest.start()
        try guest.waitForShell()
        // libvirt reports the agent connected once the guest opened the port.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if try virsh(["qemu-agent-command", guest.name, #"{"execute":"guest-ping"}"#]).status == 0 { return guest }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw TestbedError("the guest's qemu-guest-agent channel never answered; console:\n\(guest.console.suffix(2000))")
    }

    static func ok(_ args: [String]) throws -> String {
        let r = try virsh(args)
        guard r.status == 0 else { throw TestbedError("virsh \(args.joined(separator: " ")) failed: \(r.stderr)") }
        return r.stdout
    }

    @Test func virshAgentCommandsWork() async throws {
        let guest = try await Self.guest()
        defer { guest.remove() }

        // Raw protocol through libvirt.
        let info = try Self.ok(["qemu-agent-command", guest.name, #"{"execute":"guest-info"}"#])
        #expect(info.contains("\"version\":\"\(VigilVersion.current)\""), "\(info)")
        for command in ["guest-sync-delimited", "guest-get-fsinfo", "guest-fsfreeze-freeze", "guest-shutdown"] {
            #expect(info.contains("\"\(command)\""), "guest-info lacks \(command)")
        }
        let unknown = try Self.virsh(["qemu-agent-command", guest.name, #"{"execute":"guest-no-such"}"#])
        #expect(unknown.status != 0 && unknown.stderr.contains("guest-no-such"), "\(unknown.stderr)")

        // virsh domtime: read, set, and --sync (from the guest's RTC).
        let now = Int(Date().timeIntervalSince1970)
        #expect(abs((Self.seconds(try Self.ok(["domtime", guest.name])) ?? 0) - now) < 5)
        _ = try Self.ok(["domtime", guest.name, "--time", "\(now + 3600)"])
        #expect(abs((Self.seconds(try Self.ok(["domtime", guest.name])) ?? 0) - (now + 3600)) < 5)
        _ = try Self.ok(["domtime", guest.name, "--sync"])
        let synced = Self.seconds(try Self.ok(["domtime", guest.name])) ?? 0
        #expect(abs(synced - Int(Date().timeIntervalSince1970)) < 5, "after --sync the guest says \(synced)")

        // virsh guestinfo: hostname, OS, timezone, filesystems (the ext4 data disk).
        let guestinfo = try Self.ok(["guestinfo", guest.name])
        #expect(guestinfo.contains("hostname") && guestinfo.contains(guest.name), "\(guestinfo)")
        #expect(guestinfo.contains("os.kernel-release"))
        #expect(guestinfo.contains("timezone.offset"))
        #expect(guestinfo.contains("fs.0.mountpoint") && guestinfo.contains("/data"), "\(guestinfo)")

        // virsh domifaddr --source agent: the guest's interfaces as it sees them.
        let addrs = try Self.ok(["domifaddr", guest.name, "--source", "agent"])
        #expect(addrs.contains("lo") && addrs.contains("127.0.0.1"), "\(addrs)")

        // Freeze and thaw the guest's filesystems.
        #expect(try Self.ok(["domfsfreeze", guest.name]).contains("Froze 1 filesystem"))
        #expect(try Self.ok(["qemu-agent-command", guest.name, #"{"execute":"guest-fsfreeze-status"}"#]).contains("frozen"))
        #expect(try Self.ok(["domfsthaw", guest.name]).contains("Thawed 1 filesystem"))
        #expect(try Self.ok(["qemu-agent-command", guest.name, #"{"execute":"guest-fsfreeze-status"}"#]).contains("thawed"))

        // Shutdown through the agent: the guest powers itself off.
        _ = try Self.ok(["shutdown", guest.name, "--mode", "agent"])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, try guest.domain.state().state != .shutoff { try await Task.sleep(for: .milliseconds(300)) }
        #expect(try guest.domain.state().state == .shutoff)
    }

    @Test func leavesThePortToARunningQemuGuestAgent() async throws {
        // --qga: the guest starts the real qemu-ga on the channel first.
        let guest = try await Self.guest(["--qga"])
        defer { guest.remove() }
        let info = try Self.ok(["qemu-agent-command", guest.name, #"{"execute":"guest-info"}"#])
        #expect(!info.contains("\"version\":\"\(VigilVersion.current)\""), "vigil-agent took qemu-ga's port: \(info)")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !guest.console.contains("not serving the qemu-guest-agent protocol") {
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(guest.console.contains("not serving the qemu-guest-agent protocol"), "\(guest.console.suffix(1500))")
    }

    /// "Time: 1795000000" → seconds.
    static func seconds(_ output: String) -> Int? {
        output.split(separator: "\n").first { $0.contains("Time:") }
            .flatMap { Int($0.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") }
    }
}
