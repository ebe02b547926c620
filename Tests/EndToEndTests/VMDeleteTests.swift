import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Deleting VMs on the real libvirtd with real qcow2 disks: to the recycle
/// bin and back, expiry, permanent destroy with a verified wipe; and the
/// settings of a running guest, with HA off really leaving a panic alone.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct VMDeleteTests {
    struct Setup {
        let conn: Connection
        let dir: TemporaryDirectory
        let store: TemporaryDirectory
        let daemon: DaemonProcess
        let name: String
        var disk: String { store.path + "/\(name)-disk1.qcow2" }
        func remove() {
            if let d = try? conn.domain(named: name) { try? d.destroy(); try? d.undefine() }
            daemon.stop()
            store.remove()
            dir.remove()
        }
    }

    /// A shut-off VM made by `vigil vm create` with one 1 GiB qcow2 disk.
    static func createdVM() throws -> Setup {
        let conn = try Connection(uri: "qemu:///system")
        let dir = try TemporaryDirectory("vdl")
        let store = try TemporaryDirectory("vds")
        chmod(store.path, 0o755)
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir)
        let s = Setup(conn: conn, dir: dir, store: store, daemon: daemon, name: "vd-\(UUID().uuidString.prefix(6).lowercased())")
        let r = try daemon.vigil(["vm", "create", s.name, "--memory", "128", "--disk", "1@\(store.path)", "--virt-type", "qemu"])
        guard r.status == 0 else { throw TestbedError("vigil vm create failed: \(r.stderr)") }
        return s
    }

    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    static func bin(_ daemon: DaemonProcess) throws -> [RecycleEntry] {
        try JSONDecoder().decode(RecycleBinList.self, from: Data(try daemon.vigil(["bin", "list", "--json"]).stdout.utf8)).entries
    }

    @Test func deleteToTheBinRestoreBootAndExpire() async throws {
        let s = try Self.createdVM()
        defer { s.remove() }
        let inode = try #require(Self.inode(s.disk))

        let d = try s.daemon.vigil(["vm", "delete", s.name, "--with-disks", "--json"])
        #expect(d.status == 0, "\(d.stderr)")
        let entry = try JSONDecoder().decode(RecycleEntry.self, from: Data(d.stdout.utf8))
        #expect(throws: LibvirtError.self) { try s.conn.domain(named: s.name) }
        #expect(!FileManager.default.fileExists(atPath: s.disk))
        let stored = try #require(entry.disks.first?.stored)
        #expect(entry.disks.first?.original == s.disk)
        #expect(Self.inode(stored) == inode, "moved by rename, not copied")
        let info = try ProcessRunner.run(["qemu-img", "info", "-U", "--output=json", stored])
        #expect(info.stdout.contains("\"format\": \"qcow2\""))
        #expect(try Self.bin(s.daemon).map(\.id) == [entry.id])

        let r = try s.daemon.vigil(["bin", "restore", "\(entry.id)", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let vm = try JSONDecoder().decode(VMSummary.self, from: Data(r.stdout.utf8))
        #expect(vm.uuid == entry.vmUUID)
        let dom = try s.conn.domain(named: s.name)
        #expect(try dom.xml().contains("<source file='\(s.disk)'"))
        #expect(Self.inode(s.disk) == inode)
        #expect(try Self.bin(s.daemon).isEmpty)
        // QEMU opens the disk that came back: the VM starts.
        let start = try s.daemon.vigil(["vm", "start", s.name])
        #expect(start.status == 0, "\(start.stderr)")
        #expect(try dom.state().state == .running)

        let running = try s.daemon.vigil(["vm", "delete", s.name, "--with-disks"])
        #expect(running.status != 0 && running.stderr.contains("it is running") && running.stderr.contains("--force"), "\(running.stderr)")
        #expect(try s.daemon.vigil(["vm", "delete", s.name, "--with-disks", "--force"]).status == 0)
        let second = try #require(try Self.bin(s.daemon).first?.disks.first?.stored)
        #expect(Self.inode(second) == inode)

        // A vigild with a 2 s retention purges it (at start and periodically).
        s.daemon.stop()
        let short = try DaemonProcess(connect: "qemu:///system", directory: s.dir, extraArguments: ["--recycle-retention-seconds", "2"])
        defer { short.stop() }
        try await short.waitUntil("expiry", timeout: 20) { try Self.bin(short).isEmpty }
        #expect(!FileManager.default.fileExists(atPath: second) && !FileManager.default.fileExists(atPath: s.disk))
        #expect(throws: LibvirtError.self) { try s.conn.domain(named: s.name) }
        #expect(try short.events(vm: s.name).contains { $0.action == "purge" && $0.message.contains("retention") })
    }

    @Test func restoreWhenTheUUIDWasReusedGivesANewOne() throws {
        let s = try Self.createdVM()
        defer { s.remove() }
        let uuid = try s.conn.domain(named: s.name).uuid
        #expect(try s.daemon.vigil(["vm", "delete", s.name]).status == 0)
        let squatter = try s.conn.define(xml: """
            <domain type='qemu'><name>\(s.name)-sq</name><uuid>\(uuid)</uuid><memory unit='MiB'>64</memory>
            <os><type arch='x86_64'>hvm</type></os></domain>
            """)
        defer { try? squatter.undefine() }
        let r = try s.daemon.vigil(["bin", "restore", s.name, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let vm = try JSONDecoder().decode(VMSummary.self, from: Data(r.stdout.utf8))
        #expect(vm.name == s.name && vm.uuid != uuid && vm.uuid.count == 36)
        #expect(try s.conn.domain(named: s.name).xml().contains("<source file='\(s.disk)'"))
        #expect(try squatter.isPersistent)
    }

    @Test func destroyWipeZeroFillsTheDiskBeforeDeletingIt() throws {
        let s = try Self.createdVM()
        defer { s.remove() }
        // A hard link keeps the inode alive after the unlink, so its content
        // afterwards is what vigild left in the file's blocks.
        let link = s.store.path + "/witness"
        #expect(Foundation.link(s.disk, link) == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: link))
        #expect(before.count > 0 && before.prefix(4) == Data([0x51, 0x46, 0x49, 0xfb]), "a qcow2 header")

        // Another VM's overlay is backed by this disk: destroying with the disks is refused.
        let overlay = s.store.path + "/overlay.qcow2"
        #expect(try ProcessRunner.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", s.disk, overlay]).status == 0)
        let otherName = s.name + "-ov"
        let other = try s.conn.define(xml: """
            <domain type='qemu'><name>\(otherName)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
            <os><type arch='x86_64'>hvm</type></os><devices>
            <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(overlay)'/><target dev='vda' bus='virtio'/></disk>
            </devices></domain>
            """)
        defer { try? other.undefine() }
        let refused = try s.daemon.vigil(["vm", "destroy", s.name, "--wipe"])
        #expect(refused.status != 0 && refused.stderr.contains("is used by VM \(otherName)"), "\(refused.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: link)) == before)
        #expect(try s.conn.domain(named: s.name).isPersistent)
        try other.undefine()

        // A wipe is a long operation the CLI follows to its end.
        let r = try s.daemon.vigil(["vm", "destroy", s.name, "--wipe", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let op = try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
        #expect(op.kind == "wipe" && op.state == .succeeded && (op.result ?? "").contains(s.disk), "\(op)")
        #expect(!FileManager.default.fileExists(atPath: s.disk))
        #expect(throws: LibvirtError.self) { try s.conn.domain(named: s.name) }
        let after = try Data(contentsOf: URL(fileURLWithPath: link))
        #expect(after.count == before.count)
        #expect(after.allSatisfy { $0 == 0 }, "the disk's bytes were not all zeroed")
        #expect(try s.daemon.events(vm: s.name).contains { $0.action == "destroy" && $0.message.contains("zero-filling") })
    }

    /// A vigild killed in the middle of a wipe: the restart finishes it
    /// (zeroed data cannot be rolled back); cancelling a wipe is refused.
    @Test func wipeInterruptedByAKilledVigildIsFinishedAtRestart() async throws {
        let s = try Self.createdVM()
        defer { s.remove() }
        // A big raw image, so the zero-fill takes long enough to interrupt.
        let big = s.store.path + "/big.raw"
        #expect(try ProcessRunner.run(["dd", "if=/dev/urandom", "of=\(big)", "bs=1M", "count=8", "status=none"]).status == 0)
        #expect(truncate(big, 2 << 30) == 0)
        let witness = s.store.path + "/big-witness"
        #expect(Foundation.link(big, witness) == 0)
        let dom = try s.conn.domain(named: s.name)
        var xml = try dom.xml([.inactive])
        xml = xml.replacingOccurrences(of: "</devices>", with: """
            <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(big)'/><target dev='vdb' bus='virtio'/></disk></devices>
            """)
        _ = try s.conn.define(xml: xml)

        let started = try JSONDecoder().decode(OperationInfo.self, from: Data(
            try s.daemon.vigil(["vm", "destroy", s.name, "--wipe", "--no-wait", "--json"]).stdout.utf8))
        try await s.daemon.waitUntil("zero-filling under way", timeout: 60) {
            let r = try s.daemon.vigil(["op", "show", started.id, "--json"])
            return try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8)).progress > 0.02
        }
        let cancel = try s.daemon.vigil(["op", "cancel", started.id])
        #expect(cancel.status != 0 && cancel.stderr.contains("cannot be cancelled"), "\(cancel.stderr)")
        s.daemon.kill()
        let restarted = try DaemonProcess(connect: "qemu:///system", directory: s.dir)
        defer { restarted.stop() }
        try await restarted.waitUntil("wipe finished at restart", timeout: 120) {
            let r = try restarted.vigil(["op", "show", started.id, "--json"])
            return try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8)).state == .succeeded
        }
        let done = try JSONDecoder().decode(OperationInfo.self, from: Data(try restarted.vigil(["op", "show", started.id, "--json"]).stdout.utf8))
        #expect(done.notes.contains { $0.contains("finished at restart") }, "\(done)")
        #expect(!FileManager.default.fileExists(atPath: big) && !FileManager.default.fileExists(atPath: s.disk))
        #expect(throws: LibvirtError.self) { try s.conn.domain(named: s.name) }
        // Every byte the guest could have written is zero now.
        let fd = open(witness, O_RDONLY)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8 << 20)
        #expect(read(fd, &buffer, buffer.count) == buffer.count && buffer.allSatisfy { $0 == 0 })
    }

    @Test func settingsOfARunningGuestAndHAOffLeavesAPanicAlone() async throws {
        let s = try await ProtectionTests.protectedGuest()
        defer { s.remove() }
        let r = try s.daemon.vigil(["vm", "settings", s.guest.name, "--display-name", "HA test guest", "--io-weight", "300",
                                    "--ha", "off", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try JSONDecoder().decode(VMSettingsDocument.self, from: Data(r.stdout.utf8))
        #expect(doc.displayName == "HA test guest" && doc.ioWeight == 300 && doc.haEnabled == false)
        let config = try s.guest.domain.xml([.inactive])
        #expect(config.contains("<title>HA test guest</title>") && config.contains("<weight>300</weight>"), "\(config)")
        #expect(try s.guest.domain.xml().contains("<title>HA test guest</title>"))

        try s.guest.trigger("echo c > /proc/sysrq-trigger")
        try await s.daemon.waitUntil("panic logged") {
            try s.daemon.events(vm: s.guest.name).contains { $0.kind == "failure" && $0.cause == "panic" }
        }
        try await Task.sleep(for: .seconds(3))
        let log = try s.daemon.events(vm: s.guest.name)
        #expect(log.first { $0.cause == "panic" }?.message.contains("HA is off") == true)
        #expect(!log.contains { $0.kind == "recovery" }, "\(log.map(\.message))")
        let state = try s.guest.domain.state()
        #expect(state.isPanicked, "\(state) \(log.map(\.message))")
    }
}
