import Foundation
import Libvirt
import Testing
import TestSupport

/// The simulated cluster itself (`testbed/cluster`): a host's power loss,
/// hang and network partition must take exactly that host, its guests and
/// the vigild inside it, and never another host's processes. The tests
/// share one two-host rig; each brings it up as it needs it (`up` keeps
/// hosts that are up) and leaves it up.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct ClusterRigTests {
    /// A running guest on each host, on the hosts' own disks.
    private static func guests() throws -> (TestGuest, TestGuest) {
        let one = try TestGuest(on: Connection(uri: ClusterRig.uri(1)), controlSocket: false)
        let two: TestGuest
        do { two = try TestGuest(on: Connection(uri: ClusterRig.uri(2)), controlSocket: false) } catch {
            one.remove()
            throw error
        }
        try one.start()
        try two.start()
        return (one, two)
    }

    private static func qemu(_ host: Int, _ guest: TestGuest) throws -> ProcessIdentity {
        try #require(ClusterRig.qemu(host, guest: guest.name), "no pid file for \(guest.name)'s QEMU on host \(host)")
    }

    @Test func killTakesTheHostsGuestsAndVigildAndSparesTheOtherHost() async throws {
        try ClusterRig.up(2)
        let (one, two) = try Self.guests()
        defer { one.remove(); two.remove() }
        let dir = try TemporaryDirectory("vr1")
        defer { dir.remove() }
        let vigild = try DaemonProcess(connect: "qemu:///system", directory: dir, namespaceCommand: ClusterRig.inside(1))
        defer { vigild.stop() }

        let host1 = ClusterRig.daemons(1) + [try Self.qemu(1, one), ProcessIdentity(pid: vigild.process.pid)]
        #expect(host1.count == 4 && host1.allSatisfy { $0.isLive }, "\(host1)")
        let other = try Self.qemu(2, two)
        let otherDaemons = ClusterRig.daemons(2)

        try ClusterRig.run(["kill", "1"])
        let left = host1.filter { !$0.isDead }
        #expect(left.isEmpty, "host 1 processes alive after kill: \(left)")
        #expect(try ClusterRig.status(1).first == "down")
        #expect(!ClusterRig.answers(1))
        #expect(other.isLive, "host 2's QEMU \(other)")
        #expect(otherDaemons.allSatisfy { $0.isLive }, "\(otherDaemons)")
        #expect(try two.domain.state().state == .running)

        // Back up after the power loss: a clean host, and host 2 untouched.
        try ClusterRig.up(2)
        let fresh = try Connection(uri: ClusterRig.uri(1))
        #expect(try fresh.domains().isEmpty, "host 1 came back with domains")
        #expect(try ClusterRig.status(1) == ["up"])
        #expect(ClusterRig.daemons(1).allSatisfy { $0.isLive })
        #expect(other.isLive, "host 2's QEMU after host 1's up: \(other)")
        #expect(ClusterRig.qemu(2, guest: two.name) == other)
    }

    /// Issue 19's hazard: once every process of a host has died its
    /// namespace ids are free for reuse (by a QEMU on another host, say);
    /// `up` and `down` of the dead host must still leave that QEMU alone.
    @Test func upAndDownOfADeadHostLeaveTheOtherHostsGuestAlone() async throws {
        try ClusterRig.up(2)
        try ClusterRig.run(["kill", "1"])
        let two = try TestGuest(on: Connection(uri: ClusterRig.uri(2)), controlSocket: false)
        defer { two.remove() }
        try two.start()
        let other = try Self.qemu(2, two)
        let otherDaemons = ClusterRig.daemons(2)

        try ClusterRig.up(2)  // host 1 is torn down, then started again
        #expect(other.isLive, "after up: \(other)")
        try ClusterRig.run(["kill", "1"])
        #expect(other.isLive, "after a second kill: \(other)")
        try ClusterRig.run(["down", "1"])
        #expect(other.isLive, "after down 1: \(other)")
        #expect(otherDaemons.allSatisfy { $0.isLive }, "\(otherDaemons)")
        #expect(try two.domain.state().state == .running)
        #expect(try ClusterRig.status(1).first == "down")
        #expect(try ClusterRig.status(2) == ["up"])
        try ClusterRig.up(2)
        #expect(other.isLive, "after up again: \(other)")
    }

    @Test func freezeHangsTheHostAndThawRestoresIt() async throws {
        try ClusterRig.up(2)
        let (one, two) = try Self.guests()
        defer { one.remove(); two.remove() }
        let sleeper = try BackgroundCommand(ClusterRig.inside(1) + ["sleep", "600"])
        defer { sleeper.stop() }
        // Until it is `sleep`, it may not have joined the host yet.
        try await Self.eventually("sleep inside host 1") { ProcessIdentity(pid: sleeper.pid).command == "sleep" }
        let host1 = ClusterRig.daemons(1) + [try Self.qemu(1, one), ProcessIdentity(pid: sleeper.pid)]
        let other = try Self.qemu(2, two)

        try ClusterRig.run(["freeze", "1"])
        defer { _ = try? ClusterRig.run(["thaw", "1"]) }
        #expect(host1.allSatisfy { $0.state == "T" }, "\(host1)")
        #expect(!ClusterRig.answers(1), "a frozen libvirtd answered")
        #expect(try ClusterRig.status(1) == ["up", "frozen"])
        #expect(other.isLive, "host 2's QEMU \(other)")
        #expect(ClusterRig.answers(2))

        try ClusterRig.run(["thaw", "1"])
        #expect(host1.allSatisfy { $0.isLive }, "\(host1)")
        #expect(ClusterRig.answers(1))
        #expect(try ClusterRig.status(1) == ["up"])
        #expect(try Connection(uri: ClusterRig.uri(1)).domain(named: one.name).state().state == .running)
    }

    /// Host 1 cut off: no traffic between it and host 2, an etcd-like server
    /// or the test itself, either way, on new or established connections;
    /// its own libvirt and the shared storage still work; `heal` undoes it.
    @Test func partitionCutsTheHostOffBothWaysAndHealRestoresIt() async throws {
        let shared = try ClusterRig.up(2)
        let etcd = ClusterRig.address(10), port = Int.random(in: 30000...39999)
        let server = try BackgroundCommand(["socat", "TCP-LISTEN:\(port),bind=\(etcd),fork,reuseaddr",
                                            "SYSTEM:while echo tick; do sleep 0.2; done"])
        defer { server.stop() }
        try await Self.eventually("etcd-like server listening") { ClusterRig.connects(from: nil, to: etcd, port: port) }
        let host1 = ClusterRig.address(1), libvirt = ClusterRig.libvirtPort
        #expect(ClusterRig.connects(from: 1, to: etcd, port: port))
        #expect(ClusterRig.connects(from: 2, to: host1, port: libvirt))

        // An established connection host 1 opened, the server writing to it.
        let dir = try TemporaryDirectory("vrp")
        defer { dir.remove() }
        let ticks = dir.path + "/ticks"
        let reader = try BackgroundCommand(ClusterRig.inside(1) + ["socat", "-u", "TCP:\(etcd):\(port)", "-"], output: ticks)
        defer { reader.stop() }
        func count() -> Int { ((try? String(contentsOfFile: ticks, encoding: .utf8)) ?? "").split(separator: "\n").count }
        try await Self.eventually("ticks reaching host 1") { count() >= 3 }

        // Someone else's rule on host 1's address: heal must leave it.
        let foreign = ["OUTPUT", "-d", host1 + "/32", "-p", "tcp", "--dport", "9", "-m", "comment",
                       "--comment", "vigil-test-foreign-\(port)", "-j", "ACCEPT"]
        try ProcessRunner.run(["iptables", "-A"] + foreign)
        defer { _ = try? ProcessRunner.run(["iptables", "-D"] + foreign) }

        try ClusterRig.run(["partition", "1"])
        defer { _ = try? ClusterRig.run(["heal", "1"]) }
        let atCut = count()
        #expect(try ClusterRig.status(1) == ["up", "partitioned"])
        #expect(!ClusterRig.connects(from: 1, to: etcd, port: port), "host 1 reached the etcd-like server")
        #expect(!ClusterRig.connects(from: 1, to: ClusterRig.address(2), port: libvirt), "host 1 reached host 2")
        #expect(!ClusterRig.connects(from: 2, to: host1, port: libvirt), "host 2 reached host 1")
        #expect(!ClusterRig.connects(from: nil, to: host1, port: libvirt), "the machine reached host 1")
        #expect(!ClusterRig.answers(1))
        // Only host 1 is cut off; host 1 still reaches itself and its storage.
        #expect(ClusterRig.connects(from: 2, to: etcd, port: port))
        #expect(ClusterRig.answers(2))
        #expect(ClusterRig.connects(from: 1, to: host1, port: libvirt))
        let local = try ProcessRunner.run(ClusterRig.inside(1) + ["virsh", "-q", "-c", "qemu:///system", "version"], timeout: 30)
        #expect(local.status == 0, "host 1's own libvirt: \(local.stderr)")
        let marker = shared + "/partition-\(port)"
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let write = try ProcessRunner.run(ClusterRig.inside(1) + ["sh", "-c", "echo x > \(marker)"], timeout: 30)
        #expect(write.status == 0 && FileManager.default.fileExists(atPath: marker), "shared storage from host 1: \(write.stderr)")
        #expect(count() <= atCut + 1, "the established connection kept delivering: \(atCut) → \(count())")

        try ClusterRig.run(["heal", "1"])
        #expect(try ClusterRig.status(1) == ["up"])
        let rules = try ProcessRunner.run(["iptables", "-S", "OUTPUT"]).stdout
        #expect(rules.contains("vigil-test-foreign-\(port)"), "heal removed a rule the rig did not add:\n\(rules)")
        let onHost1 = rules.split(separator: "\n").filter { $0.contains(host1 + " ") || $0.contains(host1 + "/") }
        #expect(onHost1.count == 1, "partition rules left after heal:\n\(rules)")
        #expect(ClusterRig.connects(from: 1, to: etcd, port: port))
        #expect(ClusterRig.connects(from: 2, to: host1, port: libvirt))
        #expect(ClusterRig.answers(1))
        // TCP retransmits what the partition dropped: the old connection lives again.
        let healed = count()
        try await Self.eventually("ticks after heal", timeout: 30) { count() > healed + 2 }
    }

    private static func eventually(_ what: String, timeout: TimeInterval = 10, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else { throw TestbedError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
