import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Guests that run only Debian's qemu-guest-agent (no Vigil channel):
/// vigild pings it through libvirt and protects the guest with the same
/// windows and policies as vigil-agent; libvirt's own agent tools keep
/// working beside it; a qemu-ga stopped cleanly is "no agent", not a failure.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct GuestAgentOnlyTests {
    /// 1 s pings, 4 misses: a 4 s window.
    static let policy = ["--default-heartbeat-interval", "1", "--default-misses", "4", "--default-min-uptime", "0",
                         "--default-on-crash", "restart", "--log-level", "debug"]
    /// qemu-ga on org.qemu.guest_agent.0; vigil-agent only on a channel no vigild watches.
    static let guestArguments = ["--qga", "--agent-channel", "org.example.unwatched.0"]

    static func setup(_ guestArguments: [String] = guestArguments) async throws -> ProtectionTests.Setup {
        let conn = try Connection(uri: "qemu:///system")
        let dir = try TemporaryDirectory("vq")
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir, extraArguments: policy)
        let guest = try TestGuest(on: conn, extraArguments: guestArguments)
        let s = ProtectionTests.Setup(conn: conn, dir: dir, daemon: daemon, guest: guest)
        do {
            try guest.start()
            try guest.waitForShell(timeout: 120)
            try await daemon.waitUntil("qemu-ga answering in \(guest.name)") { try daemon.agentStatus(guest.name)?.state == .alive }
        } catch {
            s.remove()
            throw error
        }
        return s
    }

    static func qgaPid(_ s: ProtectionTests.Setup) throws -> String {
        let pid = try s.guest.run("pidof qemu-ga").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !pid.isEmpty, pid.allSatisfy(\.isNumber) else { throw TestbedError("no qemu-ga running in the guest: '\(pid)'") }
        return pid
    }

    static func failures(_ s: ProtectionTests.Setup) throws -> [VigilEvent] {
        try s.daemon.events(vm: s.guest.name).filter { $0.kind == "failure" }
    }

    @Test func protectedByQemuGAWithLibvirtsToolsWorkingNoFalseFailureAndCleanStopIsNoAgent() async throws {
        let s = try await Self.setup()
        defer { s.remove() }
        let name = s.guest.name
        let status = try #require(try s.daemon.agentStatus(name))
        #expect(status.agentKind == .qemuGA)
        #expect(status.agentVersion?.hasPrefix("7.2") == true, "guest-info's version: \(String(describing: status.agentVersion))")
        #expect((status.lastHeartbeatAgeMs ?? 99_999) < 3000)
        struct List: Decodable { let vms: [VMSummary] }
        let list = try JSONDecoder().decode(List.self, from: Data(try s.daemon.vigil(["vm", "list", "--json"]).stdout.utf8)).vms
        #expect(list.first { $0.name == name }?.agentKind == .qemuGA)
        #expect(try s.daemon.events(vm: name).contains { $0.kind == "agent" && $0.message.contains("qemu-guest-agent") })

        // libvirt's own agent commands work while vigild pings.
        for _ in 0..<3 {
            let time = try ProcessRunner.run(["virsh", "domtime", name])
            #expect(time.status == 0 && time.stdout.contains("Time:"), "\(time.stderr)")
            let info = try ProcessRunner.run(["virsh", "guestinfo", name, "--hostname"])
            #expect(info.status == 0 && info.stdout.contains("hostname"), "\(info.stderr)")
        }

        // A busy guest is not a hung one.
        try s.guest.trigger("(end=$(($(date +%s)+12)); while [ $(date +%s) -lt $end ]; do :; done) &")
        try await Task.sleep(for: .seconds(14))
        let busyFailures = try Self.failures(s)
        #expect(busyFailures.isEmpty, "no failure under a CPU hog: \(busyFailures)")
        #expect(try s.daemon.agentStatus(name)?.state == .alive)

        // qemu-ga stopped cleanly: no agent, no failure; back when it returns.
        let pid = try Self.qgaPid(s)
        // The guest's init restarts qemu-ga: stop that loop (qemu-ga's parent) first.
        #expect(try s.guest.run("kill $(cut -d' ' -f4 /proc/\(pid)/stat); kill -TERM \(pid)").status == 0)
        try await s.daemon.waitUntil("no agent after qemu-ga stopped", timeout: 20) {
            try s.daemon.agentStatus(name)?.state == .unprotected
        }
        try await Task.sleep(for: .seconds(6))  // longer than the window
        #expect(try Self.failures(s).isEmpty, "a clean stop is not a failure")
        let gone = try s.daemon.agentStatus(name)
        #expect(gone?.agentKind == GuestAgentKind.none, "\(String(describing: gone))")
        #expect(try s.guest.run("/usr/sbin/qemu-ga -d -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0").status == 0)
        try await s.daemon.waitUntil("qemu-ga answering again", timeout: 30) { try s.daemon.agentStatus(name)?.state == .alive }
    }

    @Test func frozenAgentIsAHangWithinTheWindowThenAPanicIsRecoveredToo() async throws {
        let s = try await Self.setup()
        defer { s.remove() }
        let name = s.guest.name
        let pid = try Self.qgaPid(s)
        // Measured from when the guest's shell has run the kill (it takes a while under TCG).
        #expect(try s.guest.run("kill -STOP \(pid)").status == 0)
        let stopped = Date()
        try await s.daemon.waitUntil("hang detected", timeout: 30) { try !Self.failures(s).isEmpty }
        let failure = try #require(try Self.failures(s).first)
        #expect(failure.cause == "heartbeat-loss" && failure.action == "restart")
        let detected = failure.time - stopped.timeIntervalSince1970
        print("qemu-ga hang detected \(detected) s after the freeze (window 4 s)")
        // On failure, vigild's own account of the pings (the whole log is too long for a test report).
        let pings = s.daemon.log.split(separator: "\n").filter { $0.contains("qemu-guest-agent") || $0.contains("guest failure") }.suffix(40)
        #expect(detected < 4 + 1.5, "detected \(detected) s after the freeze; window 4 s; vigild:\n\(pings.joined(separator: "\n"))")
        try await s.daemon.waitUntil("recovered: qemu-ga answers after the reset", timeout: 120) {
            try s.daemon.events(vm: name).contains { $0.kind == "recovery" && $0.outcome == "succeeded" }
                && s.daemon.agentStatus(name)?.state == .alive
        }
        // The kernel panics (pvpanic): recovered like a Vigil-agent guest.
        try s.guest.waitForShell(timeout: 60)
        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        try await s.daemon.waitUntil("panic recovered", timeout: 120) {
            let e = try s.daemon.events(vm: name)
            return e.contains { $0.kind == "failure" && $0.cause == "panic" }
                && e.filter { $0.kind == "recovery" && $0.outcome == "succeeded" }.count >= 2
        }
        try await s.daemon.waitUntil("qemu-ga back after the panic", timeout: 120) { try s.daemon.agentStatus(name)?.state == .alive }
    }

    @Test func kernelStoppedWithoutPanicDeviceIsDetectedAndRecovered() async throws {
        let s = try await Self.setup(Self.guestArguments + ["--no-panic-device"])
        defer { s.remove() }
        let name = s.guest.name
        // No pvpanic: the kernel stops (panic=0 waits forever) and nothing tells libvirt.
        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        try await s.daemon.waitUntil("hang detected", timeout: 30) {
            try Self.failures(s).contains { $0.cause == "heartbeat-loss" }
        }
        try await s.daemon.waitUntil("recovered", timeout: 120) {
            try s.daemon.events(vm: name).contains { $0.kind == "recovery" && $0.outcome == "succeeded" }
                && s.daemon.agentStatus(name)?.state == .alive
        }
    }

    @Test func vigilChannelWithoutVigilAgentFallsBackToQemuGA() async throws {
        // The Vigil channel is there, but vigil-agent looks for another port: qemu-ga must protect the guest.
        let s = try await Self.setup(["--qga", "--agent-args", "--channel org.example.none.0"])
        defer { s.remove() }
        let status = try #require(try s.daemon.agentStatus(s.guest.name))
        #expect(status.agentKind == .qemuGA && status.state == .alive, "\(status)")
        let pid = try Self.qgaPid(s)
        #expect(try s.guest.run("kill -STOP \(pid)").status == 0)
        try await s.daemon.waitUntil("hang detected through qemu-ga", timeout: 30) {
            try Self.failures(s).contains { $0.cause == "heartbeat-loss" }
        }
    }
}
