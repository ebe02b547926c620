import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Moving a VM's storage on one host through vigild, on the real libvirtd
/// with a real guest: live (block copy and pivot while the guest runs, its
/// boot id and heartbeats unchanged, no failure), then shut off into a
/// libvirt storage pool; old images removed; refused while it has snapshots.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct StorageMoveTests {
    @Test func runningThenShutOffVMMovesAndKeepsItsData() async throws {
        let s = try await ProtectionTests.protectedGuest()
        let moved = s.dir.path + "/fast", pooled = s.dir.path + "/pool"
        for d in [moved, pooled] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let poolName = "\(s.guest.name)-pool"
        let pool = try s.conn.defineStoragePool(xml: "<pool type='dir'><name>\(poolName)</name><target><path>\(pooled)</path></target></pool>")
        try pool.start()
        defer {
            try? pool.destroy()
            try? pool.undefine()
            s.remove()
        }
        let name = s.guest.name, d = s.daemon
        let bytes = 6 * 1_048_576
        let sum = try s.guest.run("head -c \(bytes) /dev/urandom > /data/f && sync && md5sum /data/f").stdout.split(separator: " ").first.map(String.init)
        let boot = try #require(try d.agentStatus(name)?.bootID)

        let bad = try d.vigil(["vm", "move-storage", name])
        #expect(bad.status != 0 && bad.stderr.contains("--dir"), "\(bad.stderr)")

        // Live: the guest keeps running (writing while it is copied) and ends on the copy.
        try s.guest.trigger("i=0; while [ $i -lt 40 ]; do echo $i >> /data/log; sync; i=$((i+1)); sleep 0.2; done")
        let op = try BackupTests.ok(d, ["vm", "move-storage", name, "--dir", moved])
        #expect(op.kind == "move-storage")
        let live = try DomainDefinitionProbe.diskPath(try s.guest.domain.xml())
        let persistent = try DomainDefinitionProbe.diskPath(try s.guest.domain.xml([.inactive]))
        #expect(live.hasPrefix(moved + "/") && persistent == live, "live \(live), persistent \(persistent)")
        #expect(!FileManager.default.fileExists(atPath: s.guest.diskPath), "the old image is removed")
        #expect(try s.guest.domain.state().state == .running)
        try await Task.sleep(for: .seconds(9))
        #expect(try s.guest.run("md5sum /data/f").stdout.hasPrefix(sum ?? "?"))
        #expect(try s.guest.run("tail -n 1 /data/log").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "39",
                "every write during the copy reached the copy")
        #expect(try d.agentStatus(name)?.bootID == boot && d.agentStatus(name)?.state == .alive, "the same boot, heartbeating")
        #expect(try !d.events(vm: name).contains { $0.kind == "failure" }, "no false failure")
        #expect(try ProcessRunner.run(["qemu-img", "check", "-U", live]).status == 0)

        // Refused while it has a snapshot (its chain would be flattened under it).
        _ = try BackupTests.ok(d, ["snapshot", "create", name, "s1", "--no-quiesce"])
        let refused = try d.vigil(["vm", "move-storage", name, "--pool", poolName])
        #expect(refused.status != 0 && refused.stderr.contains("snapshot"), "\(refused.stderr)")
        _ = try BackupTests.ok(d, ["snapshot", "delete", name, "s1"])

        // Shut off: copied into the pool and redefined; it boots from there with its data.
        try s.guest.domain.destroy()
        _ = try BackupTests.ok(d, ["vm", "move-storage", name, "--pool", poolName])
        let inPool = try DomainDefinitionProbe.diskPath(try s.guest.domain.xml([.inactive]))
        #expect(inPool.hasPrefix(pooled + "/"), "\(inPool)")
        #expect(!FileManager.default.fileExists(atPath: live))
        #expect((try? pool.volume(named: URL(fileURLWithPath: inPool).lastPathComponent)) != nil, "the pool lists it")
        try s.guest.start()
        try s.guest.waitForShell(timeout: 120)
        #expect(try s.guest.run("md5sum /data/f").stdout.hasPrefix(sum ?? "?"))
    }
}
