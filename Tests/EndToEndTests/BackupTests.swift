import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Backups through vigild on the real libvirtd with a real guest, real
/// qcow2 images with dirty bitmaps, and a real OpenSSH server: a chain of
/// full, incremental and differential backups restored at each point and
/// checked from inside the guest and with `qemu-img compare`; a shut-off VM
/// backed up; a crashed VM's broken bitmaps detected; a remote repository
/// over SSH, compressed; a dropped link, a killed vigild and a full
/// destination each leaving a consistent repository and a correct next
/// incremental; verify naming a damaged region; a policy with retention.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct BackupTests {
    static let mib = 1 << 20

    static func operation(_ r: CommandResult) throws -> OperationInfo {
        guard r.stdout.contains("\"state\"") else { throw TestbedError("vigil failed: \(r.stderr) \(r.stdout)") }
        return try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
    }

    /// Runs a backup command to its end. Its own limit is generous: on a
    /// loaded 2-core machine a TCG guest's backup or restore can pass the
    /// CLI calls' usual 60 s, and the test is about what it does, not its speed.
    static func ok(_ d: DaemonProcess, _ args: [String]) throws -> OperationInfo {
        let r = try d.vigil(args + ["--json"], timeout: 300)
        guard r.stdout.contains("\"state\"") else {
            throw TestbedError("vigil \(args.joined(separator: " ")) failed (\(r.status)): \(r.stderr) \(r.stdout)\nvigild log:\n\(d.log.suffix(3000))")
        }
        let op = try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
        guard op.state == .succeeded else { throw TestbedError("\(args.joined(separator: " ")) did not succeed: \(op)") }
        return op
    }

    static func backups(_ d: DaemonProcess, _ vm: String?, _ destination: String? = nil) throws -> [BackupInfo] {
        var args = ["backup", "list"] + (vm.map { [$0] } ?? []) + ["--json"]
        if let destination { args += ["--destination", destination] }
        let r = try d.vigil(args)
        guard r.status == 0 else { throw TestbedError("backup list: \(r.stderr)") }
        return try JSONDecoder().decode(BackupList.self, from: Data(r.stdout.utf8)).backups
    }

    /// Writes `mib` MiB of random data to /data/NAME and returns its md5.
    static func write(_ s: ProtectionTests.Setup, _ name: String, mib: Int) throws -> String {
        let r = try s.guest.run("head -c \(mib * Self.mib) /dev/urandom > /data/\(name) && sync && md5sum /data/\(name)", timeout: 60)
        guard r.status == 0, let sum = r.stdout.split(separator: " ").first else { throw TestbedError("write \(name): \(r.stderr)") }
        return String(sum)
    }

    static func md5(_ run: (String) throws -> CommandResult, _ name: String) throws -> String? {
        let r = try run("md5sum /data/\(name) 2>/dev/null || echo missing")
        return r.stdout.contains("missing") ? nil : r.stdout.split(separator: " ").first.map(String.init)
    }

    /// Restores `backup` as VM `name`, boots it, and returns a runner for its shell.
    static func restoreAndBoot(_ d: DaemonProcess, _ conn: Connection, _ backup: String, as name: String,
                               extra: [String] = []) async throws -> (String) throws -> CommandResult {
        _ = try ok(d, ["backup", "restore", backup, "--name", name, "--start"] + extra)
        let dom = try conn.domain(named: name)
        let socket = try CloneTests.controlSocket(dom)
        try await CloneTests.waitForShell(socket)
        return { try CloneTests.run(socket, $0) }
    }

    static func removeVM(_ conn: Connection, _ name: String) {
        guard let d = try? conn.domain(named: name) else { return }
        let disks = DomainDefinitionProbe.diskPaths((try? d.xml([.inactive])) ?? "")
        try? d.destroy()
        try? d.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata])
        for p in disks { try? FileManager.default.removeItem(atPath: p) }
    }

    static func checkpoints(_ s: ProtectionTests.Setup) throws -> [String] { try s.guest.domain.checkpoints().map(\.name) }

    @Test func fullIncrementalDifferentialRestoreEachPointShutOffAndCrashedVMs() async throws {
        let s = try await ProtectionTests.protectedGuest(guestArguments: ["--qga-channel", "--agent-args", "--qga"])
        let name = s.guest.name
        let repo = s.dir.path + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        var restored: [String] = []
        defer {
            for r in restored { Self.removeVM(s.conn, r) }
            s.remove()
        }
        let d = s.daemon, dest = ["--destination", repo]

        // Refused up front, saying what to do.
        let early = try d.vigil(["backup", "create", name, "--level", "incremental", "--json"] + dest)
        #expect(early.status != 0 && early.stderr.contains("no earlier backup") && early.stderr.contains("--level full"), "\(early.stderr)")
        let nowhere = try d.vigil(["backup", "create", name])
        #expect(nowhere.status != 0 && nowhere.stderr.contains("--backup-destination"), "\(nowhere.stderr)")

        let a0 = try Self.write(s, "a", mib: 16)
        let full = try Self.ok(d, ["backup", "create", name, "--level", "full"] + dest)
        var list = try Self.backups(d, name, repo)
        #expect(list.count == 1 && list[0].level == .full && list[0].consistency == "quiesced", "\(list)")
        let fullInfo = list[0]
        #expect(full.result == fullInfo.id)
        #expect(fullInfo.storedBytes >= Int64(16 * Self.mib), "the full holds the guest's 16 MiB: \(fullInfo.storedBytes)")

        // 4 MiB new, and 1 MiB of a zeroed: zeroes must come back as zeroes, not as the parent's data.
        let b = try Self.write(s, "b", mib: 4)
        #expect(try s.guest.run("dd if=/dev/zero of=/data/a bs=1048576 count=1 conv=notrunc 2>/dev/null && sync").status == 0)
        let a1 = try #require(try Self.md5({ try s.guest.run($0) }, "a"))
        #expect(a1 != a0)
        _ = try Self.ok(d, ["backup", "create", name, "--level", "incremental"] + dest)
        list = try Self.backups(d, name, repo)
        let inc = try #require(list.last)
        #expect(inc.level == .incremental && inc.parent == fullInfo.id && inc.base == fullInfo.id)
        // What changed: 5 MiB of data plus the filesystem's journal and metadata (at most 4 MiB here).
        #expect(inc.storedBytes >= Int64(5 * Self.mib) && inc.storedBytes <= Int64(Double(5 * Self.mib) * 1.5) + Int64(4 * Self.mib),
                "incremental stored \(inc.storedBytes >> 10) KiB for 5 MiB changed")

        let c = try Self.write(s, "c", mib: 2)
        _ = try Self.ok(d, ["backup", "create", name, "--level", "differential"] + dest)
        let diff = try #require(try Self.backups(d, name, repo).last)
        #expect(diff.level == .differential && diff.parent == fullInfo.id, "since the full: \(diff)")
        #expect(diff.storedBytes >= Int64(6 * Self.mib), "the differential holds b, the zeroed MiB and c: \(diff.storedBytes)")
        #expect(try d.events(vm: name).contains { $0.kind == "backup" && $0.message.contains("differential backup \(diff.id)") })

        // Each point restored as a new VM, checked from inside.
        for (backup, expected) in [(fullInfo.id, ["a": a0, "b": nil, "c": nil]), (inc.id, ["a": a1, "b": b, "c": nil]),
                                   (diff.id, ["a": a1, "b": b, "c": c])] {
            let vm = "\(name)-r\(restored.count)"
            restored.append(vm)
            let run = try await Self.restoreAndBoot(d, s.conn, backup, as: vm, extra: dest)
            for (file, sum) in expected.sorted(by: { $0.key < $1.key }) {
                #expect(try Self.md5(run, file) == sum, "restored \(backup): /data/\(file)")
            }
            let r = try s.conn.domain(named: vm)
            #expect(r.uuid != s.guest.domain.uuid)
            #expect(!(try r.xml([.inactive])).contains(try Self.mac(s.guest.domain)), "a new MAC")
            try? r.destroy()
        }

        // Shut off (QEMU told to quit, so it writes its bitmaps out): an incremental of a shut-off VM.
        try s.guest.domain.destroy(graceful: true)
        _ = try Self.ok(d, ["backup", "create", name] + dest)
        let off = try #require(try Self.backups(d, name, repo).last)
        #expect(off.level == .incremental && off.parent == diff.id && off.vmWasShutOff, "\(off)")
        #expect(try s.guest.domain.state().state == .shutoff, "stopped again after the copy")
        let vmOff = "\(name)-r\(restored.count)"
        restored.append(vmOff)
        _ = try Self.ok(d, ["backup", "restore", off.id, "--name", vmOff] + dest)
        let restoredDisk = try DomainDefinitionProbe.diskPath(try s.conn.domain(named: vmOff).xml([.inactive]))
        let cmp = try ProcessRunner.run(["qemu-img", "compare", "-U", s.guest.diskPath, restoredDisk])
        #expect(cmp.status == 0, "the restored image equals the source at the backup: \(cmp.stdout) \(cmp.stderr)")
        let kept = try Self.checkpoints(s)
        #expect(kept.count <= 2, "only the checkpoints a next backup can use stay: \(kept)")
        // A full of the shut-off VM too, restored onto a libvirt storage pool.
        _ = try Self.ok(d, ["backup", "create", name, "--level", "full"] + dest)
        let offFull = try #require(try Self.backups(d, name, repo).last)
        #expect(offFull.level == .full && offFull.vmWasShutOff && offFull.consistency == "shut off", "\(offFull)")
        let poolDir = s.dir.path + "/pool"
        try FileManager.default.createDirectory(atPath: poolDir, withIntermediateDirectories: true)
        let poolName = "\(name)-pool"
        let pool = try s.conn.defineStoragePool(xml: "<pool type='dir'><name>\(poolName)</name><target><path>\(poolDir)</path></target></pool>")
        defer { try? pool.destroy(); try? pool.undefine() }
        try pool.start()
        let vmPool = "\(name)-r\(restored.count)"
        restored.append(vmPool)
        _ = try Self.ok(d, ["backup", "restore", offFull.id, "--name", vmPool, "--pool", poolName] + dest)
        let pooled = try DomainDefinitionProbe.diskPath(try s.conn.domain(named: vmPool).xml([.inactive]))
        #expect(pooled.hasPrefix(poolDir + "/"), "restored into the pool's directory: \(pooled)")
        #expect(try pool.volume(named: URL(fileURLWithPath: pooled).lastPathComponent).path() == pooled, "and the pool knows the volume")
        let cmpFull = try ProcessRunner.run(["qemu-img", "compare", "-U", s.guest.diskPath, pooled])
        #expect(cmpFull.status == 0, "\(cmpFull.stdout) \(cmpFull.stderr)")

        // A crash (QEMU killed) leaves the dirty bitmaps inconsistent: the next backup says so and takes a full.
        try s.guest.start()
        try s.guest.waitForShell(timeout: 120)
        let dAfterCrash = try Self.write(s, "d", mib: 1)
        try Self.killQEMU(name)
        try s.guest.start()
        try s.guest.waitForShell(timeout: 120)
        let crashOp = try Self.ok(d, ["backup", "create", name] + dest)
        let afterCrash = try #require(try Self.backups(d, name, repo).last)
        #expect(afterCrash.level == .full, "a broken bitmap never gives a wrong incremental: \(afterCrash) \(crashOp.notes)")
        #expect((afterCrash.note ?? "").contains("unusable") || (afterCrash.note ?? "").contains("checkpoint"), "says why: \(afterCrash.note ?? "")")
        #expect(try Self.md5({ try s.guest.run($0) }, "d") == dAfterCrash)

        // Verify: intact, then a flipped region in the incremental's image is found and named.
        let good = try d.vigil(["backup", "verify", "--vm", name, "--json"] + dest)
        #expect(good.status == 0, "\(good.stdout) \(good.stderr)")
        let image = "\(repo)/\(s.guest.domain.uuid)/\(inc.id)/vda.qcow2"
        let flip = try ProcessRunner.run(["dd", "if=/dev/urandom", "of=\(image)", "bs=4096", "count=1", "seek=1300", "conv=notrunc"])
        #expect(flip.status == 0)
        let bad = try d.vigil(["backup", "verify", inc.id, "--json"] + dest)
        #expect(bad.status != 0)
        let result = try JSONDecoder().decode(BackupVerifyResult.self, from: Data(bad.stdout.utf8))
        #expect(result.checked == [inc.id, fullInfo.id], "the backup and what it builds on: \(result.checked)")
        let offChain = try d.vigil(["backup", "verify", off.id, "--json"] + dest)
        #expect(offChain.status == 0, "the shut-off backup's chain (off, diff, full) does not use the damaged image: \(offChain.stdout)")
        let damage = try #require(result.damage.first)
        #expect(result.damage.count == 1 && damage.backup == inc.id && damage.disk == "vda", "\(result.damage)")
        #expect(damage.offset <= 1300 * 4096 && damage.offset + damage.length >= 1301 * 4096, "the damaged range covers the flipped bytes: \(damage)")

        // In place: the original back at the full, its chain restarted.
        _ = try Self.ok(d, ["backup", "restore", fullInfo.id, "--in-place", "--force", "--start"] + dest)
        try s.guest.waitForShell(timeout: 120)
        #expect(try Self.md5({ try s.guest.run($0) }, "a") == a0)
        #expect(try Self.md5({ try s.guest.run($0) }, "b") == nil)
        #expect(try Self.checkpoints(s).isEmpty, "its checkpoints went with the replaced images")
        let next = try Self.ok(d, ["backup", "create", name] + dest)
        #expect(try Self.backups(d, name, repo).last?.level == .full, "after an in-place restore the next backup is a full: \(next.notes)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(repo)/\(s.guest.domain.uuid)").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "no partial directories: \(leftovers)")
    }

    /// An OpenSSH server on a loopback address for the remote repository.
    struct SSHServer {
        let dir: String
        let address = "127.0.0.20"
        let port = 2222
        let identity: String
        let knownHosts: String

        init(dir: String) throws {
            self.dir = dir
            let out = try Testbed.run("sshd", ["up", dir, address, "\(port)"])
            guard out.contains("identity=") else { throw TestbedError("sshd did not start: \(out)") }
            identity = dir + "/client_key"
            knownHosts = dir + "/known_hosts"
        }

        func destination(_ path: String) -> String { "ssh://root@\(address):\(port)\(path)" }
        var vigildArguments: [String] { ["--backup-ssh-identity", identity, "--backup-ssh-known-hosts", knownHosts] }
        func stop() { _ = try? Testbed.run("sshd", ["down", dir]) }

        /// Drops every packet to and from the server: a link that goes silent, not one that closes.
        func cut() throws { try firewall("-I") }
        func heal() throws { try firewall("-D") }

        private func firewall(_ op: String) throws {
            for rule in [["INPUT", "-d", address, "-p", "tcp", "--dport", "\(port)"], ["OUTPUT", "-s", address, "-p", "tcp", "--sport", "\(port)"]] {
                let r = try ProcessRunner.run(["iptables", op, rule[0]] + rule.dropFirst() + ["-j", "DROP"])
                guard r.status == 0 else { throw TestbedError("iptables \(op): \(r.stderr)") }
            }
        }
    }

    /// Starts a backup and returns once it is writing to the destination.
    static func startSlowBackup(_ d: DaemonProcess, _ vm: String, _ extra: [String]) async throws -> OperationInfo {
        let op = try operation(try d.vigil(["backup", "create", vm, "--rate-limit", "1", "--no-wait", "--json"] + extra))
        try await d.waitUntil("backup \(op.id) writing to the destination", timeout: 120) {
            let r = try d.vigil(["op", "show", op.id, "--json"])
            let info = try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
            if info.state != .running { throw TestbedError("backup ended before writing: \(info)") }
            return (info.detail ?? "").contains("writing")
        }
        return op
    }

    @Test func remoteRepositoryOverSSHSurvivesADroppedLinkAKilledVigildAndAFullDestination() async throws {
        let sshDir = try TemporaryDirectory("vsh")
        let server = try SSHServer(dir: sshDir.path)
        let remoteRoot = sshDir.path + "/repo"
        let remote = server.destination(remoteRoot)
        let s = try await ProtectionTests.protectedGuest(["--backup-destination", remote] + server.vigildArguments,
                                                         guestArguments: ["--qga-channel", "--agent-args", "--qga"])
        let name = s.guest.name
        var daemon = s.daemon
        var restored: [String] = []
        let small = s.dir.path + "/small"
        defer {
            try? server.heal()
            server.stop()
            for r in restored { Self.removeVM(s.conn, r) }
            _ = ProcessRunner.runQuietly(["umount", small])
            if daemon !== s.daemon { _ = daemon.stop() }
            s.remove()
            sshDir.remove()
        }
        let vmDir = "\(remoteRoot)/\(s.guest.domain.uuid)"

        let a = try Self.write(s, "a", mib: 4)
        let full = try Self.ok(daemon, ["backup", "create", name])
        let b = try Self.write(s, "b", mib: 3)
        _ = try Self.ok(daemon, ["backup", "create", name, "--compress"])
        var list = try Self.backups(daemon, name)
        #expect(list.map(\.level) == [.full, .incremental] && list.allSatisfy { $0.destination == remote }, "\(list)")
        #expect(list[1].compressed && list[1].disks.first?.file == "vda.qcow2.zst")
        #expect(FileManager.default.fileExists(atPath: "\(vmDir)/\(full.result ?? "")/manifest.json"), "on the server's disk")

        // The link goes silent while the incremental is being written: the backup fails, nothing half-made is listed.
        let c = try Self.write(s, "c", mib: 8)
        let cut = try await Self.startSlowBackup(daemon, name, [])
        try server.cut()
        let cutEnd = try daemon.vigil(["op", "show", cut.id, "--wait", "--json"])
        try server.heal()
        let cutInfo = try JSONDecoder().decode(OperationInfo.self, from: Data(cutEnd.stdout.utf8))
        #expect(cutInfo.state == .failed, "\(cutInfo)")
        #expect(try Self.backups(daemon, name).count == 2, "the cut backup is not listed")
        // The next incremental builds on the last whole backup and cleans up what the cut one left.
        _ = try Self.ok(daemon, ["backup", "create", name])
        list = try Self.backups(daemon, name)
        #expect(list.count == 3 && list[2].level == .incremental && list[2].parent == list[1].id, "\(list)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: vmDir).filter { $0.hasPrefix(".") }.isEmpty, "no partial left on the server")

        // vigild killed mid-write: at its restart the partial, scratch and checkpoint go; the chain goes on.
        let dSum = try Self.write(s, "d", mib: 8)
        let killed = try await Self.startSlowBackup(daemon, name, [])
        daemon.kill()
        daemon = try DaemonProcess(connect: "qemu:///system", directory: s.dir,
                                   extraArguments: ProtectionTests.fastPolicy + ["--backup-destination", remote] + server.vigildArguments)
        try await daemon.waitUntil("the killed backup rolled back") {
            let r = try daemon.vigil(["op", "show", killed.id, "--json"])
            return (try? JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8)))?.state != .running
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: vmDir).filter { $0.hasPrefix(".") }.isEmpty, "no partial left on the server")
        #expect(try !Self.checkpoints(s).contains { $0.hasSuffix(killed.id) }, "no checkpoint of the killed backup")
        let scratch = s.dir.path + "/state/backup-tmp"
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []).isEmpty, "no scratch files")
        _ = try Self.ok(daemon, ["backup", "create", name])
        list = try Self.backups(daemon, name)
        #expect(list.count == 4 && list[3].parent == list[2].id && list[3].level == .incremental, "\(list)")

        // The remote, partly compressed chain restored into a new VM: everything up to d.
        let vm = "\(name)-rr"
        restored.append(vm)
        let run = try await Self.restoreAndBoot(daemon, s.conn, list[3].id, as: vm)
        for (file, sum) in [("a", a), ("b", b), ("c", c), ("d", dSum)] { #expect(try Self.md5(run, file) == sum, "/data/\(file)") }
        try? s.conn.domain(named: vm).destroy()
        #expect(try daemon.vigil(["backup", "verify", "--vm", name]).status == 0, "the remote repository verifies")

        // A destination that fills up mid-backup: the backup fails whole, the next incremental is right.
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let m = try ProcessRunner.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", small])
        try #require(m.status == 0, "mount tmpfs: \(m.stderr)")
        let local = ["--destination", small]
        _ = try Self.ok(daemon, ["backup", "create", name, "--level", "full"] + local)
        let used = try #require(try Self.backups(daemon, name, small).first).storedBytes
        #expect(ProcessRunner.runQuietly(["mount", "-o", "remount,size=\(used + 3 * Int64(Self.mib))", small]) == 0)
        let e = try Self.write(s, "e", mib: 8)
        let filled = try Self.operation(try daemon.vigil(["backup", "create", name, "--json"] + local))
        #expect(filled.state == .failed, "the destination is full: \(filled)")
        #expect(try Self.backups(daemon, name, small).count == 1)
        let smallDir = "\(small)/\(s.guest.domain.uuid)"
        #expect(try FileManager.default.contentsOfDirectory(atPath: smallDir).filter { $0.hasPrefix(".") }.isEmpty, "no partial left")
        #expect(ProcessRunner.runQuietly(["mount", "-o", "remount,size=200m", small]) == 0)
        _ = try Self.ok(daemon, ["backup", "create", name] + local)
        let afterFull = try Self.backups(daemon, name, small)
        #expect(afterFull.count == 2 && afterFull[1].level == .incremental && afterFull[1].parent == afterFull[0].id, "\(afterFull)")
        let vm2 = "\(name)-rs"
        restored.append(vm2)
        let run2 = try await Self.restoreAndBoot(daemon, s.conn, afterFull[1].id, as: vm2, extra: local)
        #expect(try Self.md5(run2, "e") == e)
    }

    @Test func aPolicyTakesFullsAndIncrementalsByItselfAndRetentionKeepsWholeChains() async throws {
        let s = try await ProtectionTests.protectedGuest()
        let repo = s.dir.path + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        defer { s.remove() }
        let d = s.daemon, name = s.guest.name
        let bad = try d.vigil(["backup", "policy", "set", "p", "--vm", name, "--schedule", "every 10s", "--destination", "relative"])
        #expect(bad.status != 0 && bad.stderr.contains("absolute"), "\(bad.stderr)")
        let set = try d.vigil(["backup", "policy", "set", "p", "--vm", name, "--schedule", "every 10s", "--full-schedule", "every 30s",
                               "--keep", "2", "--destination", repo])
        #expect(set.status == 0, "\(set.stderr)")
        var seen: [[BackupInfo]] = []
        try await d.waitUntil("retention removed the first chain", timeout: 150) {
            let list = try Self.backups(d, name, repo)
            if seen.last.map(\.self) != list { seen.append(list) }
            // At every moment, every listed backup can be restored: its chain is whole.
            for b in list { #expect(Self.chainIsWhole(list, b.id), "\(b.id) lost its chain in \(list.map(\.id))") }
            return try d.events(vm: name).contains { $0.kind == "backup" && $0.message.contains("beyond the retention of 2") }
        }
        #expect(try d.vigil(["backup", "policy", "delete", "p"]).status == 0)
        let levels = seen.flatMap { $0 }.reduce(into: [String: BackupLevel]()) { $0[$1.id] = $1.level }
        let ordered = levels.sorted { $0.key < $1.key }.map(\.value)
        #expect(ordered.first == .full && ordered.contains(.incremental) && ordered.filter { $0 == .full }.count >= 2,
                "a full, incrementals, a second full: \(ordered)")
        let final = try Self.backups(d, name, repo)
        #expect(final.first?.level == .full && final.allSatisfy { $0.policy == "p" }, "\(final)")
        #expect(final.count >= 2)
    }

    /// `id`'s parents all listed, down to a full.
    static func chainIsWhole(_ list: [BackupInfo], _ id: String) -> Bool {
        var next: String? = id
        for _ in 0...list.count {
            guard let n = next, let b = list.first(where: { $0.id == n }) else { return false }
            if b.level == .full { return true }
            next = b.parent
        }
        return false
    }

    static func mac(_ dom: Domain) throws -> String {
        let xml = try dom.xml([.inactive])
        guard let r = xml.range(of: "<mac address='") else { return "no-mac" }
        return String(xml[r.upperBound...].prefix(17))
    }

    /// Power loss for one guest: SIGKILL its QEMU.
    static func killQEMU(_ name: String) throws {
        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/\(name).pid", encoding: .utf8)
        guard let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TestbedError("no qemu pid for \(name)") }
        kill(pid, SIGKILL)
        for _ in 0..<100 where kill(pid, 0) == 0 { usleep(50_000) }
        usleep(500_000)
    }
}
