import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Snapshots through vigild on the real libvirtd with a real guest and real
/// qcow2 chains: a tree taken running (quiesced, with memory) and shut off,
/// reverted anywhere (external snapshots, which libvirt 9.0 cannot revert)
/// with the guest's files checked from inside, deleted in the middle with
/// merges online and offline; a vigild killed mid-merge; a policy that
/// keeps exactly N. Every image left must pass `qemu-img check`.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct SnapshotTests {
    static func operation(_ r: CommandResult) throws -> OperationInfo {
        guard r.status == 0 || r.stdout.contains("\"state\"") else { throw TestbedError("vigil failed: \(r.stderr) \(r.stdout)") }
        return try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
    }

    static func ok(_ s: ProtectionTests.Setup, _ args: [String]) throws -> OperationInfo {
        let op = try operation(try s.daemon.vigil(args + ["--json"]))
        guard op.state == .succeeded else { throw TestbedError("\(args.joined(separator: " ")) did not succeed: \(op)") }
        return op
    }

    static func list(_ s: ProtectionTests.Setup) throws -> [SnapshotInfo] {
        let r = try s.daemon.vigil(["snapshot", "list", s.guest.name, "--json"])
        return try JSONDecoder().decode(SnapshotList.self, from: Data(r.stdout.utf8)).snapshots
    }

    static func files(_ s: ProtectionTests.Setup) throws -> Set<String> {
        let r = try s.guest.run("ls /data")
        return Set(r.stdout.split(whereSeparator: \.isWhitespace).map(String.init)).subtracting(["README", "lost+found"])
    }

    /// Every qcow2 image in the guest's directory passes qemu-img check.
    static func checkImages(_ s: ProtectionTests.Setup) throws {
        let dir = s.guest.directory.path
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) where f.hasSuffix(".qcow2") {
            let r = try ProcessRunner.run(["qemu-img", "check", "-U", dir + "/" + f])
            #expect(r.status == 0, "qemu-img check \(f): \(r.stdout) \(r.stderr)")
        }
    }

    /// The image holding disk vda's state at snapshot `snap` (libvirt's record).
    static func frozenImage(_ s: ProtectionTests.Setup, _ snap: String) throws -> String {
        let xml = try s.guest.domain.snapshot(named: snap).xml()
        guard let r = xml.range(of: "<domain ") else { throw TestbedError("no domain in snapshot \(snap)") }
        return try DomainDefinitionProbe.diskPath(String(xml[r.upperBound...]))
    }

    /// Whether the ext4 filesystem in `image` (the guest's /data) needs its
    /// journal replayed: a filesystem frozen for the snapshot does not.
    static func needsRecovery(_ image: String, _ s: ProtectionTests.Setup) throws -> Bool {
        let raw = s.dir.path + "/fs-check.raw"
        defer { try? FileManager.default.removeItem(atPath: raw) }
        let c = try ProcessRunner.run(["qemu-img", "convert", "-U", "-O", "raw", image, raw])
        guard c.status == 0 else { throw TestbedError("qemu-img convert \(image): \(c.stderr)") }
        let d = try ProcessRunner.run(["dumpe2fs", "-h", raw])
        guard d.stdout.contains("Filesystem features:") else { throw TestbedError("dumpe2fs \(image): \(d.stderr)") }
        return d.stdout.contains("needs_recovery")
    }

    static func waitForBoot(_ s: ProtectionTests.Setup) async throws {
        try s.guest.waitForShell(timeout: 120)
        try await s.daemon.waitUntil("agent alive in \(s.guest.name)") { try s.daemon.agentStatus(s.guest.name)?.state == .alive }
    }

    @Test func treeTakenRunningAndOffRevertsAnywhereAndDeletesInTheMiddle() async throws {
        // vigil-agent also serves the qemu-guest-agent channel, so libvirt can freeze filesystems.
        let s = try await ProtectionTests.protectedGuest(guestArguments: ["--qga-channel", "--agent-args", "--qga"])
        defer { s.remove() }
        let name = s.guest.name

        #expect(try s.guest.run("echo a > /data/a && sync").status == 0)
        let s1 = try Self.ok(s, ["snapshot", "create", name, "s1", "--description", "only a"])
        #expect(try s.daemon.events(vm: name).contains { $0.kind == "snapshot" && $0.message.contains("s1") && $0.message.contains("frozen and thawed") },
                "quiesced by the guest agent: \(s1)")
        #expect(try Self.needsRecovery(try Self.frozenImage(s, "s1"), s) == false,
                "the guest's filesystem was frozen: its snapshot image is clean without a journal replay")
        #expect(try s.guest.run("echo b > /data/b && sync").status == 0, "and thawed again: it takes writes")

        let s2 = try Self.ok(s, ["snapshot", "create", name, "s2", "--memory"])
        #expect(s2.state == .succeeded)
        let uptimeAtS2 = Double(try s.guest.run("cut -d' ' -f1 /proc/uptime").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(try s.guest.run("echo c > /data/c && sync").status == 0)
        try await Task.sleep(for: .seconds(3))

        // A disk-only snapshot of a running VM: back to its disks, booted.
        _ = try Self.ok(s, ["snapshot", "revert", name, "s1", "--start"])
        try await Self.waitForBoot(s)
        #expect(try Self.files(s) == ["a"])
        #expect(try s.guest.run("echo d > /data/d && sync").status == 0)
        _ = try Self.ok(s, ["snapshot", "create", name, "s3", "--no-quiesce"])
        #expect(try Self.needsRecovery(try Self.frozenImage(s, "s3"), s), "not frozen: the mounted filesystem's journal needs a replay")

        // The memory snapshot: running again at once, where it was, with its files then.
        _ = try Self.ok(s, ["snapshot", "revert", name, "s2"])
        #expect(try s.guest.domain.state().state == .running)
        try s.guest.waitForShell(timeout: 30)
        #expect(try Self.files(s) == ["a", "b"])
        let uptimeNow = Double(try s.guest.run("cut -d' ' -f1 /proc/uptime").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(uptimeNow >= uptimeAtS2 && uptimeNow < uptimeAtS2 + 10, "resumed where it was: uptime \(uptimeNow) vs \(uptimeAtS2) at s2")
        // Its clock is brought back to the host's time.
        try await s.daemon.waitUntil("guest clock synced after the revert", timeout: 30) {
            let guestNow = Double(try s.guest.run("date +%s").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            return abs(guestNow - Date().timeIntervalSince1970) < 2
        }

        // The tree: s1 with two children, s2 current.
        var tree = try Self.list(s)
        #expect(tree.map(\.name) == ["s1", "s2", "s3"])
        #expect(tree.first { $0.name == "s1" }?.children == ["s2", "s3"])
        #expect(tree.first { $0.name == "s2" }?.current == true && tree.first { $0.name == "s2" }?.memory == true)
        #expect(tree.first { $0.name == "s1" }?.description == "only a")
        let text = try s.daemon.vigil(["snapshot", "list", name]).stdout
        #expect(text.contains("s2 *"), "\(text)")

        // Delete the root while the VM runs on its child's branch: merged online and offline.
        _ = try Self.ok(s, ["snapshot", "delete", name, "s1"])
        tree = try Self.list(s)
        #expect(tree.map(\.name).sorted() == ["s2", "s3"])
        try Self.checkImages(s)
        #expect(try Self.files(s) == ["a", "b"], "the running VM saw nothing change")
        _ = try Self.ok(s, ["snapshot", "revert", name, "s3", "--start"])
        try await Self.waitForBoot(s)
        #expect(try Self.files(s) == ["a", "d"])
        _ = try Self.ok(s, ["snapshot", "revert", name, "s2"])
        try s.guest.waitForShell(timeout: 30)
        #expect(try Self.files(s) == ["a", "b"])

        // Shut off: a snapshot of the disks alone, then reverted after more writes.
        #expect(try s.daemon.vigil(["vm", "poweroff", name, "--force"]).status == 0)
        _ = try Self.ok(s, ["snapshot", "create", name, "off"])
        #expect(try Self.list(s).first { $0.name == "off" }?.state == "shutoff")
        #expect(try s.daemon.vigil(["vm", "start", name]).status == 0)
        try await Self.waitForBoot(s)
        #expect(try s.guest.run("echo e > /data/e && sync").status == 0)
        _ = try Self.ok(s, ["snapshot", "revert", name, "off", "--start"])
        try await Self.waitForBoot(s)
        #expect(try Self.files(s) == ["a", "b"])

        // Everything gone: the VM runs on one standalone-or-base chain, images consistent.
        _ = try Self.ok(s, ["snapshot", "delete", name, "s2", "--subtree"])
        _ = try Self.ok(s, ["snapshot", "delete", name, "s3"])
        #expect(try Self.list(s).isEmpty)
        try Self.checkImages(s)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: s.guest.directory.path).filter { $0.hasSuffix(".mem") }
        #expect(leftovers.isEmpty, "memory files removed with their snapshots: \(leftovers)")
        #expect(try Self.files(s) == ["a", "b"])

        // Refusals say what is wrong.
        let dup = try s.daemon.vigil(["snapshot", "create", name, "bad name"])
        #expect(dup.status != 0 && dup.stderr.contains("snapshot name"))
        let missing = try s.daemon.vigil(["snapshot", "revert", name, "nope"])
        #expect(missing.status != 0 && missing.stderr.contains("no snapshot named 'nope'"))
    }

    @Test func vigildKilledMidMergeFinishesAtRestartWithAConsistentChain() async throws {
        // Merges at 40 MiB/s: the kill lands in the middle of one.
        let s = try await ProtectionTests.protectedGuest(["--copy-rate-limit", "40"])
        defer { s.remove() }
        let name = s.guest.name
        #expect(try s.guest.run("echo a > /data/a && sync").status == 0)
        _ = try Self.ok(s, ["snapshot", "create", name, "k1"])
        // Enough data above k1 that merging it takes a while.
        #expect(try s.guest.run("dd if=/dev/urandom of=/data/big bs=1M count=160 2>/dev/null; sync; md5sum /data/big > /data/big.md5; sync", timeout: 120).status == 0)
        _ = try Self.ok(s, ["snapshot", "create", name, "k2"])
        _ = try Self.ok(s, ["snapshot", "create", name, "k3"])
        // Deleting k2 merges its 160 MiB into the running VM's image.
        let started = try Self.operation(try s.daemon.vigil(["snapshot", "delete", name, "k2", "--no-wait", "--json"]))
        try await s.daemon.waitUntil("the merge under way", timeout: 30) {
            let r = try s.daemon.vigil(["op", "show", started.id, "--json"])
            let info = try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
            guard info.state == .running else { throw TestbedError("the delete ended before the kill: \(info)") }
            return info.detail?.contains("merging") == true
        }
        try await Task.sleep(for: .milliseconds(500))
        s.daemon.kill()
        let again = try DaemonProcess(connect: "qemu:///system", directory: s.dir, extraArguments: ProtectionTests.fastPolicy)
        defer { again.stop() }
        try await again.waitUntil("the delete finished at restart", timeout: 120) {
            let r = try again.vigil(["op", "show", started.id, "--json"])
            return (try? JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8)))?.state != .running
        }
        let op = try JSONDecoder().decode(OperationInfo.self, from: Data(try again.vigil(["op", "show", started.id, "--json"]).stdout.utf8))
        #expect(op.state == .succeeded, "finished, not rolled back: \(op)")
        #expect(op.notes.contains { $0.contains("finished at restart") }, "it was cut short by the kill: \(op)")
        let r = try again.vigil(["snapshot", "list", name, "--json"])
        let names = try JSONDecoder().decode(SnapshotList.self, from: Data(r.stdout.utf8)).snapshots.map(\.name)
        #expect(names == ["k1", "k3"])
        let setup = ProtectionTests.Setup(conn: s.conn, dir: s.dir, daemon: again, guest: s.guest)
        try Self.checkImages(setup)
        #expect(try s.guest.run("md5sum -c /data/big.md5").status == 0, "the running VM's data is intact")
        // Every remaining snapshot still reverts.
        for snap in ["k3", "k1"] {
            _ = try Self.ok(setup, ["snapshot", "revert", name, snap, "--start"])
            try await Self.waitForBoot(setup)
            let files = try Self.files(setup)
            #expect(files.contains("a"))
            #expect(files.contains("big") == (snap == "k3"), "\(snap): \(files)")
            if snap == "k3" { #expect(try s.guest.run("md5sum -c /data/big.md5").status == 0) }
        }
        try Self.checkImages(setup)
        // Destroyed with its disks: the snapshots' images and memory go too.
        let destroyed = try again.vigil(["vm", "destroy", name, "--delete-disks", "--force"])
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: s.guest.directory.path).filter { $0.hasSuffix(".qcow2") || $0.hasSuffix(".mem") }
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test func memorySnapshotPastItsTimeoutPausesTheVMSoItCompletesThenResumesIt() async throws {
        // 2 GiB, hundreds of MiB of it random and rewritten all the time: the live copy
        // takes seconds here. A fast machine may still finish one within the 1 s timeout
        // (then it is rightly not paused): the guest is made busier until one does not.
        let s = try await ProtectionTests.protectedGuest(guestArguments: ["--memory", "2048"])
        defer { s.remove() }
        let name = s.guest.name
        #expect(try s.guest.run("dd if=/dev/urandom of=/tmp/fill bs=1M count=300 2>/dev/null; echo m > /data/m; sync", timeout: 120).status == 0)
        var taken: VigilEvent?
        var snapshot = ""
        for attempt in 1...3 {
            // One more copy of the random data, rewritten in a loop, each attempt.
            try s.guest.trigger("cp /tmp/fill /tmp/fill\(attempt); while :; do cat /tmp/fill > /tmp/fill\(attempt); done &")
            try await Task.sleep(for: .seconds(2))
            snapshot = "busy\(attempt)"
            let op = try Self.ok(s, ["snapshot", "create", name, snapshot, "--memory", "--timeout", "1"])
            #expect(op.state == .succeeded)
            taken = try s.daemon.events(vm: name).first { $0.kind == "snapshot" && $0.message.contains(snapshot) }
            #expect(taken != nil, "no event for \(snapshot)")
            if taken?.message.contains("paused at the 1 s timeout") == true { break }
            #expect(taken?.message.contains("taken live") == true, "\(String(describing: taken))")
        }
        #expect(taken?.message.contains("paused at the 1 s timeout") == true, "3 ever busier guests all finished within 1 s: \(String(describing: taken))")
        #expect(try s.guest.domain.state().state == .running, "resumed after the snapshot")
        try s.guest.waitForShell(timeout: 30)
        // And the snapshot is whole: reverting to it brings the guest back where it was.
        #expect(try s.guest.run("rm /data/m; sync").status == 0)
        _ = try Self.ok(s, ["snapshot", "revert", name, snapshot])
        try s.guest.waitForShell(timeout: 30)
        let after = try s.guest.run("ls /data; cat /proc/uptime")
        #expect(try Self.files(s).contains("m"),
                "after reverting to \(snapshot) (\(String(describing: taken?.message))): ls /data, uptime: \(after.stdout) \(after.stderr) (status \(after.status))")
        try Self.checkImages(s)
    }

    @Test func policyEveryFewSecondsKeepsExactlyNAndNeverTouchesHandMadeOnes() async throws {
        // A shut-off VM: its snapshots are quick, and nothing needs to boot.
        let conn = try Connection(uri: "qemu:///system")
        let dir = try TemporaryDirectory("vs")
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir)
        let guest = try TestGuest(on: conn)
        defer {
            guest.remove()
            daemon.stop()
            dir.remove()
        }
        let s = ProtectionTests.Setup(conn: conn, dir: dir, daemon: daemon, guest: guest)
        _ = try Self.ok(s, ["snapshot", "create", guest.name, "hand"])
        let set = try daemon.vigil(["snapshot", "policy", "set", "often", "--vm", guest.name, "--schedule", "every 5s", "--keep", "2"])
        #expect(set.status == 0, "\(set.stderr)")
        let bad = try daemon.vigil(["snapshot", "policy", "set", "x", "--vm", "no-such-vm", "--schedule", "every 5s", "--keep", "2"])
        #expect(bad.status != 0 && bad.stderr.contains("no VM 'no-such-vm'"))
        try await daemon.waitUntil("four policy runs", timeout: 90) {
            try daemon.events(vm: guest.name).filter { $0.message.contains("by policy often") }.count >= 4
        }
        #expect(try daemon.vigil(["snapshot", "policy", "delete", "often"]).status == 0)
        try await Task.sleep(for: .seconds(2))  // a run under way ends
        let snaps = try Self.list(s)
        #expect(snaps.contains { $0.name == "hand" && $0.policy == nil })
        #expect(snaps.filter { $0.policy == "often" }.count == 2, "\(snaps.map(\.name))")
        #expect(try daemon.events(vm: guest.name).contains { $0.message.contains("snapshot often-") && $0.message.contains("deleted") })
        try Self.checkImages(s)
    }
}
