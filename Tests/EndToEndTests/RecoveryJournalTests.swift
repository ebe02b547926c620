import Core
import Foundation
@testable import HostMonitor
import Libvirt
import Testing
import TestSupport

/// A vigild killed between logging a failure and logging its recovery
/// leaves the guest at one of three points. The journal (the event log)
/// says a recovery was under way; the restarted vigild must finish it
/// exactly once: one failure, one recovery, the agent on a new boot.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct RecoveryJournalTests {
    enum LeftAt: String, CaseIterable, CustomTestStringConvertible {
        /// The failure logged, the reset not done: the guest is still panicked.
        case beforeTheReset
        /// Reset but not resumed: libvirt holds a reset crashed guest paused.
        case beforeTheResume
        /// Reset and resumed: the guest boots, the recovery is not logged.
        case beforeTheLog
        var testDescription: String { rawValue }
    }

    @Test(arguments: LeftAt.allCases)
    func aRecoveryLeftHalfwayByAKilledVigildIsFinishedOnce(_ left: LeftAt) async throws {
        let s = try await ProtectionTests.protectedGuest()
        defer { s.remove() }
        let boot = try #require(try s.daemon.agentStatus(s.guest.name)?.bootID)
        let domain = s.guest.domain
        s.daemon.kill()
        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        let deadline = Date().addingTimeInterval(60)
        while try !domain.state().isPanicked, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let panicked = try domain.state()
        try #require(panicked.isPanicked, "the guest panicked: \(panicked)")

        // What the killed vigild had written: the failure, detected, its recovery begun.
        let store = try StateStore(directory: s.daemon.stateDirectory)
        try store.record(EventRecord(vmUUID: domain.uuid, vmName: s.guest.name, kind: "failure", message: "guest panicked",
                                     cause: "panic", action: "restart", outcome: "detected", durationMs: 5))
        switch left {
        case .beforeTheReset:
            break
        case .beforeTheResume:
            try domain.reset()
            let state = try domain.state()
            #expect(state.isPausedAfterCrash, "a reset crashed guest waits paused: \(state)")
        case .beforeTheLog:
            try domain.reset()
            if try domain.state().state != .running { try domain.resume() }
        }

        let again = try DaemonProcess(connect: "qemu:///system", directory: s.dir, extraArguments: ProtectionTests.fastPolicy)
        defer { again.stop() }
        try await again.waitUntil("the agent on a new boot after a recovery left \(left)", timeout: 120) {
            let a = try again.agentStatus(s.guest.name)
            return a?.isAlive(onANewBootFrom: boot) == true
        }
        // Longer than the heartbeat window (2 s): a wrong hang verdict would show.
        try await Task.sleep(for: .seconds(3))
        let log = try again.events(vm: s.guest.name)
        let failures = log.filter { $0.kind == "failure" }, recoveries = log.filter { $0.kind == "recovery" }
        #expect(failures.count == 1, "left \(left): \(log.map(\.message))")
        #expect(recoveries.count == 1, "left \(left): \(log.map(\.message))")
        #expect(recoveries.first?.outcome == "succeeded")
        #expect(recoveries.first?.cause == "panic")
        #expect(try domain.state().state == .running)
    }
}
