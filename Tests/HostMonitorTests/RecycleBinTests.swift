import Core
import Foundation
@testable import HostMonitor
import Testing
import TestSupport

/// The recycle bin through a real vigild on libvirt's test driver, with
/// real files as the VMs' disks: delete, restore, refusals, expiry, and
/// finishing what a killed vigild left half-way.
@Suite struct RecycleBinTests {
    struct Rig {
        let dir: TemporaryDirectory
        let node: String
        var disks: String { dir.path + "/disks" }
        func remove() { dir.remove() }
    }

    /// A node file with the named (running) domains; each has its own disk
    /// file `disks/NAME.img` (3 MB of random bytes) unless `disk` says
    /// otherwise, and a CD-ROM image.
    static func rig(_ domains: [(name: String, disk: String?)]) throws -> Rig {
        let dir = try TemporaryDirectory("rb")
        let disks = dir.path + "/disks"
        try FileManager.default.createDirectory(atPath: disks, withIntermediateDirectories: true)
        var xml = "<node>\n"
        for (i, d) in domains.enumerated() {
            let disk = d.disk ?? disks + "/\(d.name).img"
            if !FileManager.default.fileExists(atPath: disk) {
                try Data((0..<3_000_000).map { _ in UInt8.random(in: 1...255) }).write(to: URL(fileURLWithPath: disk))
            }
            xml += """
            <domain type='test'>
              <name>\(d.name)</name><uuid>7f1c0000-0000-4000-8000-0000000001\(String(format: "%02d", i))</uuid>
              <memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
              <devices>
                <disk type='file' device='disk'><source file='\(disk)'/><target dev='vda' bus='virtio'/></disk>
                <disk type='file' device='cdrom'><source file='\(disks)/install.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
              </devices>
            </domain>\n
            """
        }
        let node = dir.path + "/node.xml"
        try (xml + "</node>\n").write(toFile: node, atomically: true, encoding: .utf8)
        return Rig(dir: dir, node: node)
    }

    static func daemon(_ rig: Rig, _ extra: [String] = []) throws -> DaemonProcess {
        try DaemonProcess(connect: "test://\(rig.node)", directory: rig.dir, extraArguments: extra)
    }

    static func bin(_ daemon: DaemonProcess) throws -> [RecycleEntry] {
        let r = try daemon.vigil(["bin", "list", "--json"])
        guard r.status == 0 else { throw TestbedError("vigil bin list failed: \(r.stderr)") }
        return try JSONDecoder().decode(RecycleBinList.self, from: Data(r.stdout.utf8)).entries
    }

    static func vmNames(_ daemon: DaemonProcess) throws -> [String] {
        struct Body: Decodable { let vms: [VMSummary] }
        return try JSONDecoder().decode(Body.self, from: Data(try daemon.vigil(["vm", "list", "--json"]).stdout.utf8)).vms.map(\.name)
    }

    @Test func deleteWithDisksRestoreAndNameTaken() throws {
        let rig = try Self.rig([("b1", nil), ("b2", nil)])
        defer { rig.remove() }
        let daemon = try Self.daemon(rig)
        defer { daemon.stop() }
        let disk = rig.disks + "/b1.img"
        let inode = try #require(DiskUsage.fileID(disk))

        // Running: refused with what to do.
        let running = try daemon.vigil(["vm", "delete", "b1", "--with-disks"])
        #expect(running.status != 0 && running.stderr.contains("vigil vm shutdown b1") && running.stderr.contains("--force"), "\(running.stderr)")
        #expect(try Self.vmNames(daemon).contains("b1"))

        let r = try daemon.vigil(["vm", "delete", "b1", "--with-disks", "--force", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let entry = try JSONDecoder().decode(RecycleEntry.self, from: Data(r.stdout.utf8))
        #expect(!(try Self.vmNames(daemon)).contains("b1"))
        #expect(!FileManager.default.fileExists(atPath: disk))
        let stored = try #require(entry.disks.first?.stored)
        #expect(stored.hasPrefix(rig.disks + "/.vigil-recycle/"))
        // Moved, not copied: the same file.
        #expect(DiskUsage.fileID(stored) == inode)
        // The read-only CD-ROM stays where it is.
        #expect(entry.disksLeft == [rig.disks + "/install.iso"])
        #expect(try Self.bin(daemon).map(\.vmName) == ["b1"])
        #expect(entry.expiresAt == nil)

        // Another VM has the name by now: refused, with the way out.
        let taken = try daemon.vigil(["bin", "restore", "\(entry.id)", "--name", "b2"])
        #expect(taken.status != 0 && taken.stderr.contains("a VM named b2 exists") && taken.stderr.contains("--name"), "\(taken.stderr)")
        #expect(!FileManager.default.fileExists(atPath: disk))

        // A file has taken the disk's place meanwhile: refused, nothing moved.
        try Data([9]).write(to: URL(fileURLWithPath: disk))
        let occupied = try daemon.vigil(["bin", "restore", "b1"])
        #expect(occupied.status != 0 && occupied.stderr.contains(disk) && occupied.stderr.contains("move those files away"), "\(occupied.stderr)")
        #expect(DiskUsage.fileID(stored) == inode)
        #expect(!(try Self.vmNames(daemon)).contains("b1"))
        try FileManager.default.removeItem(atPath: disk)

        let restored = try daemon.vigil(["bin", "restore", "b1", "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let vm = try JSONDecoder().decode(VMSummary.self, from: Data(restored.stdout.utf8))
        #expect(vm.name == "b1" && vm.uuid == entry.vmUUID && vm.state == "shutoff")
        #expect(DiskUsage.fileID(disk) == inode)
        #expect(!FileManager.default.fileExists(atPath: rig.disks + "/.vigil-recycle"))
        #expect(try Self.bin(daemon).isEmpty)

        // Without --with-disks the disk stays; a restore under a new name works.
        let again = try daemon.vigil(["vm", "delete", "b1", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(DiskUsage.fileID(disk) == inode)
        let renamed = try daemon.vigil(["bin", "restore", "b1", "--name", "b1-old"])
        #expect(renamed.status == 0, "\(renamed.stderr)")
        #expect(try Self.vmNames(daemon).contains("b1-old"))

        let actions = try daemon.events(vm: "b1").compactMap(\.action)
        // The same VM (UUID) throughout, whatever its name.
        #expect(actions == ["delete", "restore", "delete", "restore"])
        #expect(try daemon.events(vm: "b1-old").contains { $0.action == "restore" && $0.message.contains("was b1") })
    }

    @Test func hibernatedVMsNeedForceAndUnknownOnesAreNamed() throws {
        let rig = try Self.rig([("m1", nil)])
        defer { rig.remove() }
        let daemon = try Self.daemon(rig)
        defer { daemon.stop() }
        #expect(try daemon.vigil(["vm", "hibernate", "m1"]).status == 0)
        let saved = try daemon.vigil(["vm", "delete", "m1"])
        #expect(saved.status != 0 && saved.stderr.contains("hibernated") && saved.stderr.contains("--force"), "\(saved.stderr)")
        #expect(try Self.vmNames(daemon).contains("m1"))
        // --force discards the saved memory; the definition goes to the bin.
        #expect(try daemon.vigil(["vm", "delete", "m1", "--force"]).status == 0)
        #expect(try Self.bin(daemon).map(\.vmName) == ["m1"])
        // An unknown VM: a clear error with a hint.
        let unknown = try daemon.vigil(["vm", "destroy", "nope"])
        #expect(unknown.status != 0 && unknown.stderr.contains("hint:"), "\(unknown.stderr)")
    }

    @Test func entriesExpireAfterTheRetentionAndPurgeDeletesDisks() async throws {
        let rig = try Self.rig([("x1", nil), ("x2", nil)])
        defer { rig.remove() }
        let daemon = try Self.daemon(rig, ["--recycle-retention-seconds", "6"])
        defer { daemon.stop() }
        #expect(try daemon.vigil(["vm", "delete", "x1", "--with-disks", "--force"]).status == 0)
        let entry = try #require(try Self.bin(daemon).first)
        let stored = try #require(entry.disks.first?.stored)
        #expect((entry.expiresAt ?? 0) - entry.deletedAt == 6)
        #expect(FileManager.default.fileExists(atPath: stored))
        // Still there well before the retention passes.
        try await Task.sleep(for: .seconds(1))
        let still = try Self.bin(daemon)
        // (On a loaded machine the check itself may come after the expiry.)
        #expect(still.count == 1 || Date().timeIntervalSince1970 >= entry.expiresAt ?? 0, "purged before its expiry")
        try await daemon.waitUntil("expiry", timeout: 15) { try Self.bin(daemon).isEmpty }
        #expect(!FileManager.default.fileExists(atPath: stored))
        #expect(!FileManager.default.fileExists(atPath: rig.disks + "/x1.img"))
        let purge = try #require(try daemon.events(vm: "x1").first { $0.action == "purge" })
        #expect(purge.message.contains("retention"))

        // A purge by hand, with --wipe.
        #expect(try daemon.vigil(["vm", "delete", "x2", "--with-disks", "--force"]).status == 0)
        // A wipe is a long operation: the CLI follows it to the end.
        let p = try daemon.vigil(["bin", "purge", "x2", "--wipe", "--json"])
        #expect(p.status == 0, "\(p.stderr)")
        let op = try JSONDecoder().decode(OperationInfo.self, from: Data(p.stdout.utf8))
        #expect(op.kind == "wipe" && op.state == .succeeded && (op.result ?? "").contains(rig.disks + "/x2.img"), "\(op)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: rig.disks).isEmpty)
    }

    @Test func disksAnotherVMUsesAreNeverMovedOrDeleted() throws {
        let dir = try TemporaryDirectory("rbq")
        defer { dir.remove() }
        let base = dir.path + "/base.qcow2", overlay = dir.path + "/overlay.qcow2"
        #expect(try ProcessRunner.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "16M"]).status == 0)
        #expect(try ProcessRunner.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay]).status == 0)
        // s1 uses the base image, s2 an overlay on it, s3 shares s1's disk outright.
        let rig = try Self.rig([("s1", base), ("s2", overlay), ("s3", base)])
        defer { rig.remove() }
        let daemon = try Self.daemon(rig)
        defer { daemon.stop() }
        for args in [["vm", "destroy", "s1", "--delete-disks", "--force"], ["vm", "delete", "s1", "--with-disks", "--force"]] {
            let r = try daemon.vigil(args)
            #expect(r.status != 0, "\(args) was accepted")
            #expect(r.stderr.contains("\(base) is used by VM s2") || r.stderr.contains("\(base) is used by VM s3"), "\(r.stderr)")
            #expect(r.stderr.contains("hint:"))
        }
        #expect(FileManager.default.fileExists(atPath: base))
        // Refused before anything happened: s1 is still defined and running.
        let s1 = try daemon.vigil(["vm", "list"]).stdout.split(separator: "\n").first { $0.hasPrefix("s1 ") }
        #expect(s1?.contains("running") == true, "\(s1 ?? "no s1")")
        // The overlay's own VM may delete it: nobody else uses the overlay.
        let r = try daemon.vigil(["vm", "destroy", "s2", "--delete-disks", "--force", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: overlay) && FileManager.default.fileExists(atPath: base))
        #expect(!(try Self.vmNames(daemon)).contains("s2"))
    }

    /// vigild killed between recording a delete and finishing it: at start
    /// it undoes a delete whose undefine never happened, and completes one
    /// whose domain is gone (moving the disk that had not moved yet).
    @Test func halfDoneStepsAreFinishedOrUndoneAtStart() throws {
        let rig = try Self.rig([("h1", nil)])
        defer { rig.remove() }
        let gone = rig.disks + "/gone.img"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: gone))
        let recycleDir = rig.disks + "/.vigil-recycle/9-7f1c0000"
        try FileManager.default.createDirectory(atPath: recycleDir, withIntermediateDirectories: true)
        do {
            let store = try StateStore(directory: rig.dir.path + "/state")
            _ = try store.addRecycled(RecycleRecord(vmUUID: "7f1c0000-0000-4000-8000-000000000100", vmName: "h1", xml: "<domain/>",
                                                    autostart: false, deletedAt: 1, phase: .deleting, disks: [], disksLeft: []))
            _ = try store.addRecycled(RecycleRecord(vmUUID: "7f1c0000-0000-4000-8000-0000000009ff", vmName: "gone", xml: "<domain/>",
                                                    autostart: false, deletedAt: 1, phase: .deleting,
                                                    disks: [RecycledDisk(original: gone, stored: recycleDir + "/gone.img")], disksLeft: []))
        }
        let daemon = try Self.daemon(rig)
        defer { daemon.stop() }
        try waitFor { try Self.bin(daemon).map(\.vmName) == ["gone"] }
        #expect(try Self.vmNames(daemon).contains("h1"))
        #expect(FileManager.default.fileExists(atPath: recycleDir + "/gone.img") && !FileManager.default.fileExists(atPath: gone))
        let notes = try daemon.events().map(\.message)
        #expect(notes.contains { $0.contains("did not complete; the VM stays") })
        #expect(notes.contains { $0.contains("completed at start") })
    }

    func waitFor(_ check: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if (try? check()) == true { return }
            usleep(100_000)
        }
        throw TestbedError("timed out")
    }

    @Test func zeroFillOverwritesEveryByteWithProgressAndCancellation() throws {
        let dir = try TemporaryDirectory("wp")
        defer { dir.remove() }
        let path = dir.path + "/disk.img"
        let size = 1_000_003   // not a multiple of the chunk
        try Data((0..<size).map { _ in UInt8.random(in: 1...255) }).write(to: URL(fileURLWithPath: path))
        var seen: [(UInt64, UInt64)] = []
        try DiskWiper.zeroFill(path, chunkBytes: 65_536, syncEvery: 4, progress: { seen.append(($0, $1)) })
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.count == size && bytes.allSatisfy { $0 == 0 })
        #expect(seen.first?.0 == 0 && seen.last?.0 == UInt64(size) && seen.allSatisfy { $0.1 == UInt64(size) })
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.0 < $1.0 })

        try Data(repeating: 7, count: size).write(to: URL(fileURLWithPath: path))
        var chunks = 0
        #expect(throws: DiskWiper.WipeError.self) {
            try DiskWiper.zeroFill(path, chunkBytes: 65_536, progress: { _, _ in chunks += 1 }, isCancelled: { chunks > 3 })
        }
        let partial = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(partial.prefix(3 * 65_536).allSatisfy { $0 == 0 } && partial.last == 7)
    }
}
