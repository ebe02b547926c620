import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Signed agent auto-upgrade in real guests: build A (the image's agent) to
/// build B (the same binary reporting a newer version), a tampered or
/// untrusted package refused, a broken build rolled back.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct AgentUpgradeTests {
    static var image: String { Testbed.guestImage ?? "" }
    static var key: String { image + "/keys/signing.key" }

    struct Rig {
        let setup: ProtectionTests.Setup
        let work: TemporaryDirectory
        var daemon: DaemonProcess { setup.daemon }
        var guest: TestGuest { setup.guest }
        func remove() { setup.remove(); work.remove() }

        /// Signs `binary` as version `version` with `key` into a package file.
        func package(_ binary: String, version: String, key: String = AgentUpgradeTests.key, name: String) throws -> String {
            let out = work.path + "/" + name
            let r = try ProcessRunner.run([BuiltProducts.path("vigil"), "agent", "sign", "--key", key, "--version", version,
                                           "--output", out, binary])
            guard r.status == 0 else { throw TestbedError("vigil agent sign failed: \(r.stderr)") }
            return out
        }

        /// The image's agent, reporting `version`.
        func variant(_ version: String) throws -> String {
            let out = work.path + "/vigil-agent-\(version)"
            _ = try Testbed.run("agent-variant", [AgentUpgradeTests.image + "/vigil-agent", out, version])
            return out
        }

        func upgrade() throws -> (CommandResult, [String: String]) {
            let r = try daemon.vigil(["agent", "upgrade", guest.name, "--json"])
            let object = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
            return (r, object.compactMapValues { $0 as? String })
        }

        /// What is in the guest's agent directory, and the running binary's hash.
        func guestFiles() throws -> String {
            try guest.run("ls /usr/bin/ | grep vigil-agent; ls /var/lib/vigil-agent 2>/dev/null; sha256sum /usr/bin/vigil-agent").stdout
        }
    }

    static func rig(trustKey: Bool = true) async throws -> Rig {
        _ = try Testbed.requireImage()
        let extra = (trustKey ? ["--agent-trust-key", image + "/keys/signing.pub"] : []) + ["--agent-upgrade-timeout", "8"]
        return Rig(setup: try await ProtectionTests.protectedGuest(extra), work: try TemporaryDirectory("vu"))
    }

    @Test func upgradesARunningGuestFromBuildAToBuildB() async throws {
        let rig = try await Self.rig()
        defer { rig.remove() }
        let before = try rig.guestFiles()
        let added = try rig.daemon.vigil(["agent", "repo", "add", try rig.package(try rig.variant("0.1.1"), version: "0.1.1", name: "b.vpkg")])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try rig.daemon.vigil(["agent", "repo", "list"]).stdout.contains("0.1.1"))

        let (r, result) = try rig.upgrade()
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(result["outcome"] == "upgraded", "\(result)")
        #expect(try rig.daemon.agentStatus(rig.guest.name)?.agentVersion == "0.1.1")
        // Heartbeats kept flowing: no failure while the binary streamed and switched.
        #expect(!(try rig.daemon.events(vm: rig.guest.name)).contains { $0.kind == "failure" })
        let after = try rig.guestFiles()
        #expect(after.contains("vigil-agent.prev") && !after.contains("vigil-agent.new"), "\(after)")
        #expect(!after.contains(".part"), "staging left behind: \(after)")
        #expect(after != before)
        #expect(try rig.guest.run("/usr/bin/vigil-agent --version").stdout.contains("0.1.1"))
        // Up to date now: a second upgrade does nothing.
        #expect(try rig.upgrade().1["outcome"] == "up-to-date")
    }

    @Test func tamperedAndUntrustedPackagesAreRefused() async throws {
        // vigild without a trust key: only the guest can tell an untrusted signer.
        let rig = try await Self.rig(trustKey: false)
        defer { rig.remove() }
        let before = try rig.guestFiles()
        let good = try rig.package(try rig.variant("0.1.5"), version: "0.1.5", name: "good.vpkg")

        // Tampered: one byte of the binary flipped after signing.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        bytes[bytes.count - 100] ^= 0xFF
        let tampered = rig.work.path + "/tampered.vpkg"
        try bytes.write(to: URL(fileURLWithPath: tampered))
        let refused = try rig.daemon.vigil(["agent", "repo", "add", tampered])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("tampered"), "\(refused.stderr)")

        // Signed by a key the guest does not trust.
        let otherKey = rig.work.path + "/other.key"
        _ = try ProcessRunner.run([BuiltProducts.path("vigil"), "agent", "keygen", "--out", otherKey])
        let untrusted = try rig.package(try rig.variant("0.1.6"), version: "0.1.6", key: otherKey, name: "untrusted.vpkg")
        #expect(try rig.daemon.vigil(["agent", "repo", "add", untrusted]).status == 0)
        let (_, result) = try rig.upgrade()
        #expect(result["outcome"] == "refused", "\(result)")
        #expect(result["message"]?.contains("does not trust") == true, "\(result)")
        #expect(try rig.daemon.agentStatus(rig.guest.name)?.agentVersion == VigilVersion.current)
        #expect(try rig.guestFiles() == before, "the guest's files changed")
    }

    @Test func brokenBuildIsRolledBackAutomatically() async throws {
        let rig = try await Self.rig()
        defer { rig.remove() }
        let before = try rig.guestFiles()
        // Correctly signed, but it never comes up: it just hangs.
        let broken = rig.work.path + "/broken"
        try "#!/bin/sh\nsleep 600\n".write(toFile: broken, atomically: true, encoding: .utf8)
        #expect(try rig.daemon.vigil(["agent", "repo", "add", try rig.package(broken, version: "0.2.0", name: "broken.vpkg")]).status == 0)
        let (r, result) = try rig.upgrade()
        #expect(r.status != 0)
        #expect(result["outcome"] == "rolled-back", "\(result)")
        #expect(result["message"]?.contains("handshake") == true, "\(result)")
        try await rig.daemon.waitUntil("agent alive on the old build") {
            try rig.daemon.agentStatus(rig.guest.name)?.state == .alive
        }
        #expect(try rig.daemon.agentStatus(rig.guest.name)?.agentVersion == VigilVersion.current)
        #expect(try rig.guestFiles() == before, "the guest's files changed")
        #expect(!(try rig.daemon.events(vm: rig.guest.name)).contains { $0.kind == "failure" })
    }
}
