import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Crash protection end to end: real guests with vigil-agent, real panics
/// and hangs, vigild acting on them under each policy.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct ProtectionTests {
    /// Small windows so tests run fast: heartbeat 0.5 s × 4, no minimum uptime.
    static let fastPolicy = ["--default-heartbeat-interval", "0.5", "--default-misses", "4", "--default-min-uptime", "0"]

    struct Setup {
        let conn: Connection
        let dir: TemporaryDirectory
        let daemon: DaemonProcess
        let guest: TestGuest
        /// vigild first: a recovery it is in the middle of (destroy, then start
        /// again) would otherwise race the guest's removal and leave it running.
        func remove() {
            daemon.stop()
            guest.remove()
            dir.remove()
        }
    }

    /// Boots a guest under vigild and waits until its agent heartbeats.
    static func protectedGuest(_ extra: [String] = [], guestArguments: [String] = []) async throws -> Setup {
        let conn = try Connection(uri: "qemu:///system")
        let dir = try TemporaryDirectory("vp")
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir, extraArguments: fastPolicy + extra)
        let guest = try TestGuest(on: conn, extraArguments: guestArguments)
        let setup = Setup(conn: conn, dir: dir, daemon: daemon, guest: guest)
        do {
            try guest.start()
            try await daemon.waitUntil("agent alive in \(guest.name)") { try daemon.agentStatus(guest.name)?.state == .alive }
            try guest.waitForShell()
        } catch {
            // Callers remove the setup only once they have it: do not leak a running guest.
            setup.remove()
            throw error
        }
        return setup
    }

    @Test func panicUnderRestartPolicyEndsWithTheAgentHeartbeatingAgain() async throws {
        let s = try await Self.protectedGuest()
        defer { s.remove() }
        let bootBefore = try #require(try s.daemon.agentStatus(s.guest.name)?.bootID)
        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        try await s.daemon.waitUntil("recovery") { try s.daemon.events(vm: s.guest.name).contains { $0.kind == "recovery" } }
        let log = try s.daemon.events(vm: s.guest.name)
        let failure = try #require(log.first { $0.kind == "failure" })
        #expect(failure.cause == "panic")
        #expect(failure.action == "restart")
        #expect((failure.durationMs ?? 1e9) < 1000, "detection took \(failure.durationMs ?? -1) ms")
        #expect(log.first { $0.kind == "recovery" }?.outcome == "succeeded")
        // The guest booted again: a new boot id, and heartbeats flowing.
        try await s.daemon.waitUntil("agent back after restart") {
            let a = try s.daemon.agentStatus(s.guest.name)
            return a?.isAlive(onANewBootFrom: bootBefore) == true
        }
        #expect(try s.guest.domain.state().state == .running)
        #expect(try s.daemon.events(vm: s.guest.name).filter { $0.kind == "recovery" }.count == 1)
    }

    @Test func panicUnderIgnorePolicyLeavesTheGuestCrashed() async throws {
        let s = try await Self.protectedGuest()
        defer { s.remove() }
        let set = try s.daemon.vigil(["policy", "set", s.guest.name, "--on-crash", "ignore"])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(try s.daemon.vigil(["policy", "show", s.guest.name]).stdout.contains("ignore"))
        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        try await s.daemon.waitUntil("failure logged") { try s.daemon.events(vm: s.guest.name).contains { $0.kind == "failure" } }
        try await Task.sleep(for: .seconds(3))
        let log = try s.daemon.events(vm: s.guest.name)
        #expect(log.first { $0.kind == "failure" }?.action == "ignore")
        #expect(!log.contains { $0.kind == "recovery" })
        #expect(try s.guest.domain.state().isPanicked)
    }

    @Test func frozenAgentIsAHangDetectedByHeartbeatLoss() async throws {
        let s = try await Self.protectedGuest()
        defer { s.remove() }
        let frozeAt = Date()
        _ = try s.guest.run("kill -STOP $(pidof vigil-agent)")
        try await s.daemon.waitUntil("heartbeat-loss recovery") {
            try s.daemon.events(vm: s.guest.name).contains { $0.kind == "recovery" }
        }
        let failure = try #require(try s.daemon.events(vm: s.guest.name).first { $0.kind == "failure" })
        #expect(failure.cause == "heartbeat-loss")
        // Window 2 s, counted from the last heartbeat, which came at most one
        // interval (0.5 s) before the freeze: detected 1.5-2 s after it, plus
        // tick and command latency; never early, never much later.
        let detectedAfter = failure.time - frozeAt.timeIntervalSince1970
        #expect(detectedAfter >= 1.5 && detectedAfter < 3.5, "detected after \(detectedAfter) s")
        try await s.daemon.waitUntil("agent back") { try s.daemon.agentStatus(s.guest.name)?.state == .alive }
    }

    /// No pvpanic device: the panicked kernel just stops (panic=0), so only
    /// heartbeat loss can tell. After the reset the agent reports what
    /// pstore kept of the panic.
    @Test func panicWithoutPvpanicIsCaughtByHeartbeatLossAndReportedAfterReboot() async throws {
        let s = try await Self.protectedGuest(guestArguments: ["--no-panic-device"])
        defer { s.remove() }
        let bootBefore = try #require(try s.daemon.agentStatus(s.guest.name)?.bootID)
        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        try await s.daemon.waitUntil("heartbeat-loss recovery") {
            try s.daemon.events(vm: s.guest.name).contains { $0.kind == "recovery" }
        }
        let log = try s.daemon.events(vm: s.guest.name)
        #expect(log.first { $0.kind == "failure" }?.cause == "heartbeat-loss")
        #expect(!log.contains { $0.message.contains("pvpanic") })
        try await s.daemon.waitUntil("agent back with a new boot") {
            let a = try s.daemon.agentStatus(s.guest.name)
            return a?.isAlive(onANewBootFrom: bootBefore) == true
        }
        try await s.daemon.waitUntil("crash report from pstore") {
            try s.daemon.events(vm: s.guest.name).contains { $0.kind == "guest" }
        }
        let report = try #require(try s.daemon.events(vm: s.guest.name).first { $0.kind == "guest" })
        #expect(report.message.contains("pstore"))
        #expect(report.message.contains("sysrq") || report.message.contains("Kernel panic"), "\(report.message)")
    }

    /// The guest arms its i6300esb watchdog and stops feeding it: libvirt's
    /// watchdog event is a failure, recovered by policy.
    @Test func watchdogExpiryIsDetectedAndRecovered() async throws {
        let s = try await Self.protectedGuest(guestArguments: ["--watchdog", "none"])
        defer { s.remove() }
        // Timeout 2 s, fed once only (every 600 s).
        _ = try s.guest.run("watchdog -T 2 -t 600 /dev/watchdog")
        try await s.daemon.waitUntil("watchdog recovery") {
            try s.daemon.events(vm: s.guest.name).contains { $0.kind == "recovery" }
        }
        let failure = try #require(try s.daemon.events(vm: s.guest.name).first { $0.kind == "failure" })
        #expect(failure.cause == "watchdog")
        try await s.daemon.waitUntil("agent back") { try s.daemon.agentStatus(s.guest.name)?.state == .alive }
    }

    @Test func cleanAgentStopIsNotAFailure() async throws {
        let s = try await Self.protectedGuest()
        defer { s.remove() }
        _ = try s.guest.run("kill -TERM $(pidof vigil-agent)")
        try await s.daemon.waitUntil("goodbye logged") {
            try s.daemon.events(vm: s.guest.name).contains { $0.message.contains("agent stopped cleanly") }
        }
        try await Task.sleep(for: .seconds(4))
        #expect(!(try s.daemon.events(vm: s.guest.name)).contains { $0.kind == "failure" || $0.kind == "recovery" })
    }

    @Test func pausedAndManagedSavedGuestsAreNotFailures() async throws {
        let s = try await Self.protectedGuest()
        defer { s.remove() }
        try s.guest.domain.suspend()
        try await Task.sleep(for: .seconds(4))
        try s.guest.domain.resume()
        try await Task.sleep(for: .seconds(1))
        try s.guest.domain.managedSave()
        try await Task.sleep(for: .seconds(3))
        try s.guest.domain.create()
        try await s.daemon.waitUntil("agent alive after restore") { try s.daemon.agentStatus(s.guest.name)?.state == .alive }
        try await Task.sleep(for: .seconds(3))
        #expect(!(try s.daemon.events(vm: s.guest.name)).contains { $0.kind == "failure" || $0.kind == "recovery" })
    }

    @Test func vigildRestartCausesNoFalseFailureAndNoDoubleAction() async throws {
        let s = try await Self.protectedGuest()
        defer { s.remove() }
        s.daemon.kill()
        try await Task.sleep(for: .seconds(3))
        let again = try DaemonProcess(connect: "qemu:///system", directory: s.dir, extraArguments: Self.fastPolicy)
        defer { again.stop() }
        try await again.waitUntil("agent alive again") { try again.agentStatus(s.guest.name)?.state == .alive }
        try await Task.sleep(for: .seconds(4))
        #expect(!(try again.events(vm: s.guest.name)).contains { $0.kind == "failure" || $0.kind == "recovery" })

        // A panic while vigild is down is handled once when it comes back.
        again.kill()
        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        try await Task.sleep(for: .seconds(2))
        #expect(try s.guest.domain.state().isPanicked)
        let third = try DaemonProcess(connect: "qemu:///system", directory: s.dir, extraArguments: Self.fastPolicy)
        defer { third.stop() }
        try await third.waitUntil("recovery after restart") { try third.events(vm: s.guest.name).contains { $0.kind == "recovery" } }
        try await third.waitUntil("agent alive") { try third.agentStatus(s.guest.name)?.state == .alive }
        #expect(try third.events(vm: s.guest.name).filter { $0.kind == "recovery" }.count == 1)
    }

    @Test func resetLimitStopsRecoveryAndAlerts() async throws {
        let s = try await Self.protectedGuest(["--default-max-resets", "1", "--default-window", "600"])
        defer { s.remove() }
        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        try await s.daemon.waitUntil("first recovery") { try s.daemon.events(vm: s.guest.name).contains { $0.kind == "recovery" } }
        try await s.daemon.waitUntil("agent back") { try s.daemon.agentStatus(s.guest.name)?.state == .alive }
        try s.guest.waitForShell()
        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        try await s.daemon.waitUntil("alert") { try s.daemon.events(vm: s.guest.name).contains { $0.kind == "alert" } }
        try await Task.sleep(for: .seconds(3))
        let log = try s.daemon.events(vm: s.guest.name)
        #expect(log.filter { $0.kind == "recovery" }.count == 1)
        #expect(log.first { $0.kind == "alert" }?.message.contains("limit of 1") == true)
        #expect(try s.guest.domain.state().isPanicked)
    }

    /// Where in one recovery vigild is killed (kill -9) and restarted.
    enum KillPoint: String, CaseIterable {
        /// As soon as the failure shows in the event log (the reset done or under way).
        case atDetection
        /// Right after the recovery is logged: the guest starts booting.
        case afterReset
        /// Half-way through the boot, the agent not back yet.
        case midBoot
        /// Right after the rebooted guest's agent said hello.
        case afterHello
    }

    /// The demo's setting (no minimum uptime): vigild killed at each point of
    /// a recovery and restarted at once must not act a second time on the
    /// same failure (a boot's silence is not a hang), nor miss one: each
    /// panic ends with one failure, one reset and the agent on a new boot.
    @Test func vigildKilledAtAnyPointOfARecoveryResetsTheGuestOnce() async throws {
        let s = try await Self.protectedGuest(["--default-max-resets", "10"])
        defer { s.remove() }
        var daemon = s.daemon
        var restarted: [DaemonProcess] = []
        defer { restarted.forEach { _ = $0.stop() } }
        var boot = try #require(try daemon.agentStatus(s.guest.name)?.bootID)
        for (round, point) in KillPoint.allCases.enumerated() {
            let panics = round + 1
            try s.guest.waitForShell()
            try s.guest.trigger("echo c > /proc/sysrq-trigger")
            let current = daemon
            func count(_ kind: String) throws -> Int { try current.events(vm: s.guest.name).filter { $0.kind == kind }.count }
            switch point {
            case .atDetection:
                try await current.waitUntil("failure \(panics)", interval: 0.01) { try count("failure") == panics }
            case .afterReset:
                try await current.waitUntil("recovery \(panics)") { try count("recovery") == panics }
            case .midBoot:
                try await current.waitUntil("recovery \(panics)") { try count("recovery") == panics }
                try await Task.sleep(for: .seconds(1.5))
                #expect(try current.agentStatus(s.guest.name)?.bootID == boot, "the agent is not back yet at mid-boot")
            case .afterHello:
                try await current.waitUntil("agent on a new boot", timeout: 120) { try current.agentStatus(s.guest.name)?.isAlive(onANewBootFrom: boot) == true }
            }
            current.kill()
            daemon = try DaemonProcess(connect: "qemu:///system", directory: s.dir,
                                       extraArguments: Self.fastPolicy + ["--default-max-resets", "10"])
            restarted.append(daemon)
            let again = daemon
            try await again.waitUntil("agent back on a new boot after a kill \(point)", timeout: 120) {
                let a = try again.agentStatus(s.guest.name)
                return a?.isAlive(onANewBootFrom: boot) == true
            }
            // Longer than the heartbeat window (2 s): a wrong hang verdict would show.
            try await Task.sleep(for: .seconds(3))
            let log = try again.events(vm: s.guest.name)
            #expect(log.filter { $0.kind == "failure" }.count == panics, "kill \(point): \(log.map(\.message))")
            #expect(log.filter { $0.kind == "recovery" }.count == panics, "kill \(point): one reset per panic")
            boot = try #require(try again.agentStatus(s.guest.name)?.bootID)
        }
    }

    /// A guest whose own agent is replaced by a loop writing forged hello,
    /// crash report and goodbye lines for a minute gets a bounded share of
    /// the event log: its budget (6, then one per 10 s) and a summary of
    /// what was dropped.
    @Test func aGuestFloodingForgedMessagesGetsABoundedShareOfTheLog() async throws {
        let s = try await Self.protectedGuest()
        defer { s.remove() }
        let lines = [
            AgentCodec.encode(.hello(.init(agentVersion: "6.6.6", os: "Forged", kernel: "0", bootID: "forged-boot",
                                           hostname: "x", capabilities: ["heartbeat"]))),
            AgentCodec.encode(.crashReport(.init(source: "pstore", excerpt: "Kernel panic (forged)"))),
            AgentCodec.encode(.goodbye(.init(reason: "forged"))),
        ].map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .newlines) }
        // Stop the real agent and its respawn loop, then flood from the shell.
        _ = try s.guest.run("p=$(pidof vigil-agent); kill $(cut -d' ' -f4 /proc/$p/stat); kill -9 $p")
        let write = lines.map { "'\($0)'" }.joined(separator: " ")
        let began = Date().timeIntervalSince1970
        let flood = try s.guest.run("printf '%s\\n' \(write) > /tmp/forged; end=$(($(date +%s) + 60)); n=0; "
                                    + "while [ $(date +%s) -lt $end ]; do cat /tmp/forged > /dev/virtio-ports/org.vigil.agent.0; "
                                    + "n=$((n+1)); sleep 0.05; done; echo sent $n", timeout: 90)
        try await Task.sleep(for: .seconds(2))
        let sent = Int(flood.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "") ?? 0
        #expect(sent > 50, "the flood ran: \(flood.stdout)")
        let guestCaused = try s.daemon.events(vm: s.guest.name).filter { $0.time >= began && ["agent", "guest", "upgrade"].contains($0.kind) }
        let summaries = guestCaused.filter { $0.outcome == "suppressed" }
        // 6 + 60 s / 10 s = 12 within the budget, plus one summary a minute.
        #expect(guestCaused.count - summaries.count <= 13, "\(guestCaused.count) events: \(guestCaused.prefix(20).map(\.message))")
        #expect(!summaries.isEmpty && summaries.count <= 2, "\(summaries.map(\.message))")
        #expect(guestCaused.filter { $0.kind == "guest" }.count <= 1, "one crash report per boot")
        #expect(summaries.contains { $0.message.contains("were not logged") })
    }
}
