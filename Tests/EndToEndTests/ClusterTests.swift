import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Two simulated hosts (`testbed/cluster`): separate libvirtds in their own
/// namespaces on 127.0.0.2 and 127.0.0.3 (VIGIL_CLUSTER_NET moves them),
/// sharing one storage directory.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct ClusterTests {
    static let host1 = ClusterRig.uri(1)
    static let host2 = ClusterRig.uri(2)

    /// Brings up two hosts; returns their shared storage directory.
    static func upWithSharedStorage() throws -> String { try ClusterRig.up(2) }

    @Test func liveMigratesARunningGuestBetweenHosts() async throws {
        let shared = try Self.upWithSharedStorage()

        let source = try Connection(uri: Self.host1)
        let destination = try Connection(uri: Self.host2)
        #expect(try source.hostname != destination.hostname, "hosts must be distinct")
        #expect(try source.hostUUID != destination.hostUUID)
        let arrivals = EventRecorder(try destination.subscribeDomainEvents())
        let departures = EventRecorder(try source.subscribeDomainEvents())

        let guest = try TestGuest(on: source, diskDirectory: shared, controlSocket: false)
        defer {
            // Wherever it ended up.
            if let moved = try? destination.domain(named: guest.name) {
                try? moved.destroy()
                try? moved.undefine()
            }
            guest.remove()
        }
        try guest.start()
        #expect(await departures.wait(for: EventRecorder.lifecycle(guest.name, .started)) != nil)
        // Let the guest boot so memory is in use while it moves.
        try await Task.sleep(for: .seconds(3))

        let began = ContinuousClock.now
        try guest.domain.migrate(toURI: Self.host2, sharedStorageKnown: true)
        let took = ContinuousClock.now - began

        let arrived = try destination.domain(named: guest.name)
        #expect(try arrived.state().state == .running)
        #expect(try arrived.state().reasonName == "migrated")
        #expect(arrived.uuid == guest.domain.uuid)
        #expect(throws: LibvirtError.self) { try source.domain(named: guest.name) }
        let started = await arrivals.wait(timeout: .seconds(10)) { event in
            guard event.domainName == guest.name, case .lifecycle(let l) = event.kind else { return false }
            return l.kind == .started || l.kind == .resumed
        }
        #expect(started != nil, "destination reported no Started/Resumed event")
        let stopped = await departures.wait(timeout: .seconds(10)) { event in
            guard event.domainName == guest.name, case .lifecycle(let l) = event.kind else { return false }
            return l.kind == .stopped && l.detailName == "migrated"
        }
        #expect(stopped != nil, "source reported no Stopped/migrated event")
        print("live migration took \(took)")
    }

    /// Policy migrate: the guest panics on host 1 and vigild there starts it
    /// on host 2 (disks on shared storage), where host 2's vigild sees its
    /// agent come back.
    @Test func panicUnderMigratePolicyRestartsTheGuestOnThePeer() async throws {
        let shared = try Self.upWithSharedStorage()
        let fast = ["--default-heartbeat-interval", "0.5", "--default-misses", "4", "--default-min-uptime", "0"]
        let dir1 = try TemporaryDirectory("vc1"), dir2 = try TemporaryDirectory("vc2")
        defer { dir1.remove(); dir2.remove() }
        // Each vigild runs inside its host (its own /run, libvirt and channel sockets).
        let vigild1 = try DaemonProcess(connect: "qemu:///system", directory: dir1,
                                        extraArguments: fast + ["--peer", Self.host2, "--shared-storage", shared],
                                        namespaceCommand: [Testbed.script("cluster"), "exec", "1"])
        let vigild2 = try DaemonProcess(connect: "qemu:///system", directory: dir2, extraArguments: fast,
                                        namespaceCommand: [Testbed.script("cluster"), "exec", "2"])
        defer { vigild1.stop(); vigild2.stop() }

        let source = try Connection(uri: Self.host1)
        let destination = try Connection(uri: Self.host2)
        let guest = try TestGuest(on: source, diskDirectory: shared)
        defer {
            if let moved = try? destination.domain(named: guest.name) {
                try? moved.destroy()
                try? moved.undefine()
            }
            guest.remove()
        }
        try guest.start()
        try await vigild1.waitUntil("agent alive on host 1") { try vigild1.agentStatus(guest.name)?.state == .alive }
        let set = try vigild1.vigil(["policy", "set", guest.name, "--on-crash", "migrate"])
        #expect(set.status == 0, "\(set.stderr)")
        try guest.waitForShell()

        try guest.trigger("echo c > /proc/sysrq-trigger")
        try await vigild1.waitUntil("recovery on host 1") {
            try vigild1.events(vm: guest.name).contains { $0.kind == "recovery" }
        }
        let recovery = try #require(try vigild1.events(vm: guest.name).first { $0.kind == "recovery" })
        #expect(recovery.outcome == "succeeded")
        #expect(recovery.message.contains(Self.host2), "\(recovery.message)")

        // Running on host 2, gone from host 1, with the migrate policy still attached.
        let moved = try destination.domain(named: guest.name)
        #expect(try moved.state().state == .running)
        #expect(throws: LibvirtError.self) { try source.domain(named: guest.name) }
        let shown = try vigild2.vigil(["policy", "show", guest.name, "--json"])
        #expect(shown.stdout.contains("migrate"), "\(shown.stdout) \(shown.stderr)")
        try await vigild2.waitUntil("agent alive on host 2") { try vigild2.agentStatus(guest.name)?.state == .alive }
    }

    /// A guest whose clock is 3 s off live-migrates to host 2: vigild there
    /// syncs it as soon as the agent says hello on the new host.
    @Test func clockIsSyncedAfterLiveMigration() async throws {
        let shared = try Self.upWithSharedStorage()
        let dir2 = try TemporaryDirectory("vc2")
        defer { dir2.remove() }
        let vigild2 = try DaemonProcess(connect: "qemu:///system", directory: dir2,
                                        namespaceCommand: [Testbed.script("cluster"), "exec", "2"])
        defer { vigild2.stop() }
        let source = try Connection(uri: Self.host1)
        let destination = try Connection(uri: Self.host2)
        let guest = try TestGuest(on: source, diskDirectory: shared, controlSocket: false, extraArguments: ["--qga"])
        defer {
            if let moved = try? destination.domain(named: guest.name) {
                try? moved.destroy()
                try? moved.undefine()
            }
            guest.remove()
        }
        try guest.start()
        try GuestClock.set(guest, uri: Self.host1, offBy: 3)
        try guest.domain.migrate(toURI: Self.host2, sharedStorageKnown: true)

        try await vigild2.waitUntil("clock sync on host 2") {
            try vigild2.events(vm: guest.name).contains { $0.kind == "time" && $0.action == "step" }
        }
        let event = try #require(try vigild2.events(vm: guest.name).first { $0.kind == "time" })
        #expect(event.message.contains("offset +3") || event.message.contains("offset +2"), "\(event.message)")
        let r = try vigild2.vigil(["vm", "time", guest.name, "--json"])
        let now = try JSONDecoder().decode(TimeStatus.self, from: Data(r.stdout.utf8))
        #expect(abs(now.offsetMs) < 5, "offset on host 2: \(now.offsetMs) ms")
    }

    /// A running guest on host 1 cloned onto host 2 over shared storage: the
    /// clone is defined and started there, and host 2's vigild hears its agent.
    @Test func runningGuestIsClonedOntoThePeerOverSharedStorage() async throws {
        let shared = try Self.upWithSharedStorage()
        let dir1 = try TemporaryDirectory("vc1"), dir2 = try TemporaryDirectory("vc2")
        defer { dir1.remove(); dir2.remove() }
        let vigild1 = try DaemonProcess(connect: "qemu:///system", directory: dir1,
                                        extraArguments: ["--peer", Self.host2, "--shared-storage", shared],
                                        namespaceCommand: [Testbed.script("cluster"), "exec", "1"])
        let vigild2 = try DaemonProcess(connect: "qemu:///system", directory: dir2,
                                        namespaceCommand: [Testbed.script("cluster"), "exec", "2"])
        defer { vigild1.stop(); vigild2.stop() }
        let source = try Connection(uri: Self.host1)
        let destination = try Connection(uri: Self.host2)
        let guest = try TestGuest(on: source, diskDirectory: shared, controlSocket: false)
        let cloneName = guest.name + "-x"
        defer {
            if let c = try? destination.domain(named: cloneName) { try? c.destroy(); try? c.undefine() }
            try? FileManager.default.removeItem(atPath: shared + "/\(cloneName)-vda.qcow2")
            try? FileManager.default.removeItem(atPath: shared + "/\(cloneName)-console.log")
            guest.remove()
        }
        try guest.start()
        try await vigild1.waitUntil("agent alive on host 1") { try vigild1.agentStatus(guest.name)?.state == .alive }

        let r = try vigild1.vigil(["vm", "clone", guest.name, cloneName, "--host", Self.host2, "--dir", shared, "--start", "--json"])
        let op = try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
        #expect(op.state == .succeeded, "\(op) \(r.stderr)")
        #expect(throws: LibvirtError.self) { try source.domain(named: cloneName) }
        let clone = try destination.domain(named: cloneName)
        #expect(try clone.state().state == .running)
        #expect(clone.uuid != guest.domain.uuid)
        #expect(try guest.domain.state().state == .running, "the source kept running on host 1")
        try await vigild2.waitUntil("clone's agent alive on host 2") { try vigild2.agentStatus(cloneName)?.state == .alive }
    }
}
