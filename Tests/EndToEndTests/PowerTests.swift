import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Power actions through vigild on a real guest: hibernate and wake with the
/// agent coming back, pause and resume, shutdown through the agent; none of
/// it is mistaken for a failure.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct RealPowerTests {
    @Test func hibernateWakePauseResumeAndAgentShutdown() async throws {
        let s = try await ProtectionTests.protectedGuest(guestArguments: ["--qga-channel", "--agent-args", "--qga"])
        defer { s.remove() }
        func vm(_ args: [String]) throws -> VMSummary {
            let r = try s.daemon.vigil(["vm"] + args + [s.guest.name, "--json"])
            guard r.status == 0 else { throw TestbedError("vigil vm \(args) failed: \(r.stderr)") }
            return try JSONDecoder().decode(VMSummary.self, from: Data(r.stdout.utf8))
        }
        let bootID = try s.daemon.agentStatus(s.guest.name)?.bootID

        let saved = try vm(["hibernate"])
        #expect(saved.state == "shutoff" && saved.stateReason == "saved", "\(saved)")
        #expect(try vm(["wake"]).state == "running")
        try await s.daemon.waitUntil("agent back after wake") { try s.daemon.agentStatus(s.guest.name)?.state == .alive }
        // The same boot, restored from memory.
        #expect(try s.daemon.agentStatus(s.guest.name)?.bootID == bootID)

        #expect(try vm(["pause"]).state == "paused")
        try await Task.sleep(for: .seconds(3))
        #expect(try vm(["resume"]).state == "running")
        try await s.daemon.waitUntil("agent alive after resume") { try s.daemon.agentStatus(s.guest.name)?.state == .alive }

        _ = try vm(["shutdown", "--agent"])
        try await s.daemon.waitUntil("guest off", timeout: 60) { try s.guest.domain.state().state == .shutoff }
        let log = try s.daemon.events(vm: s.guest.name)
        #expect(!log.contains { $0.kind == "failure" || $0.kind == "recovery" }, "\(log.map(\.message))")
        #expect(log.filter { $0.kind == "admin" }.compactMap(\.action) == ["hibernate", "wake", "pause", "resume", "shutdown-agent"])
    }
}
