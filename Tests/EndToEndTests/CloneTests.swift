import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Clones through vigild on the real libvirtd with real qcow2 disks: a
/// running guest cloned full (crash-consistent) and linked, both clones
/// booting with their own identity; a vigild killed mid-copy; cancel;
/// refusals.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct CloneTests {
    static func operation(_ r: CommandResult) throws -> OperationInfo {
        guard r.status == 0 || r.stdout.contains("\"state\"") else { throw TestbedError("vigil failed: \(r.stderr)") }
        return try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
    }

    static func backing(_ path: String) throws -> String? {
        let r = try ProcessRunner.run(["qemu-img", "info", "-U", "--output=json", path])
        let info = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return info?["full-backing-filename"] as? String ?? info?["backing-filename"] as? String
    }

    /// The clone's control-shell socket (its path was made unique).
    static func controlSocket(_ dom: Domain) throws -> String {
        let xml = try dom.xml()
        guard let r = xml.range(of: "-ctl.sock'") ?? xml.range(of: "-ctl.sock\""),
              let start = xml[..<r.lowerBound].range(of: "path='", options: .backwards) ?? xml[..<r.lowerBound].range(of: "path=\"", options: .backwards)
        else { throw TestbedError("no control socket in \(xml)") }
        return String(xml[start.upperBound..<r.lowerBound]) + "-ctl.sock"
    }

    static func run(_ socket: String, _ command: String) throws -> CommandResult {
        try ProcessRunner.run([Testbed.script("guest-run"), socket, command], timeout: 40)
    }

    static func waitForShell(_ socket: String) async throws {
        for _ in 0..<300 {
            if let r = try? TestGuest.run(socket, "echo ready", reset: true), r.stdout.contains("ready") { return }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw TestbedError("clone shell at \(socket) never answered")
    }

    @Test func runningGuestClonedFullAndLinkedBothBootWithTheSourcesData() async throws {
        let s = try await ProtectionTests.protectedGuest()
        let full = s.guest.name + "-f", linked = s.guest.name + "-l"
        defer {
            for n in [full, linked] {
                if let d = try? s.conn.domain(named: n) { try? d.destroy(); try? d.undefine() }
            }
            s.remove()
        }
        let marker = "clone-marker-\(UUID().uuidString.prefix(8))"
        #expect(try s.guest.run("echo \(marker) > /data/marker && sync").status == 0)

        // Full clone while the source runs: a libvirt backup job.
        let f = try Self.operation(try s.daemon.vigil(["vm", "clone", s.guest.name, full, "--json"]))
        #expect(f.state == .succeeded, "\(f)")
        #expect(f.notes.contains { $0.contains("conflict") }, "IP conflict warning: \(f.notes)")
        let fullDisk = s.guest.directory.path + "/\(full)-vda.qcow2"
        #expect(try Self.backing(fullDisk) == nil, "a full clone is independent")
        #expect(try s.guest.domain.state().state == .running, "the source kept running")
        let fullDom = try s.conn.domain(named: full)
        #expect(fullDom.uuid != s.guest.domain.uuid)

        // Linked clone: the source moves onto an overlay; both share the old image as base.
        let l = try Self.operation(try s.daemon.vigil(["vm", "clone", s.guest.name, linked, "--linked", "--json"]))
        #expect(l.state == .succeeded, "\(l)")
        let linkedDisk = s.guest.directory.path + "/\(linked)-vda.qcow2"
        #expect(try Self.backing(linkedDisk) == s.guest.diskPath)
        let sourceNow = try DomainDefinitionProbe.diskPath(try s.guest.domain.xml())
        #expect(sourceNow != s.guest.diskPath && sourceNow.hasSuffix(".qcow2"))
        #expect(try Self.backing(sourceNow) == s.guest.diskPath, "the source writes to its own overlay on the same base")

        // The source keeps working on its overlay.
        #expect(try s.guest.run("echo after > /data/after && sync && cat /data/marker").stdout.contains(marker))

        // Each clone boots with the source's data, its agent talks to vigild.
        for name in [full, linked] {
            #expect(try s.daemon.vigil(["vm", "start", name]).status == 0)
            try await s.daemon.waitUntil("agent alive in \(name)") { try s.daemon.agentStatus(name)?.state == .alive }
            let socket = try Self.controlSocket(try s.conn.domain(named: name))
            try await Self.waitForShell(socket)
            #expect(try Self.run(socket, "cat /data/marker").stdout.contains(marker))
            #expect(try Self.run(socket, "hostname").stdout.contains(name))
            // Written after the clone: not in it.
            #expect(try Self.run(socket, "ls /data/after 2>&1").stdout.contains("No such file"))
            #expect(try s.daemon.vigil(["vm", "poweroff", name, "--force"]).status == 0)
        }
    }

    /// A shut-off VM is frozen once (vigild writes its overlay and
    /// redefines it, no snapshot job); cloning it again before it runs
    /// shares the same base, so a golden VM's chain does not grow per clone.
    @Test func shutOffVMLinkedClonedTwiceSharesOneBaseUntilItRunsAgain() async throws {
        let s = try await ProtectionTests.protectedGuest()
        let names = ["a", "b", "c"].map { s.guest.name + "-l" + $0 }
        defer {
            for n in names {
                if let d = try? s.conn.domain(named: n) { try? d.destroy(); try? d.undefine() }
            }
            s.remove()
        }
        let original = s.guest.diskPath
        let marker = "golden-\(UUID().uuidString.prefix(8))"
        #expect(try s.guest.run("echo \(marker) > /data/marker && sync").status == 0)
        #expect(try s.daemon.vigil(["vm", "poweroff", s.guest.name, "--force"]).status == 0)
        try await s.daemon.waitUntil("source shut off") { try s.guest.domain.state().state == .shutoff }

        let first = try Self.operation(try s.daemon.vigil(["vm", "clone", s.guest.name, names[0], "--linked", "--json"]))
        #expect(first.state == .succeeded, "\(first)")
        let top = try DomainDefinitionProbe.diskPath(try s.guest.domain.xml())
        #expect(try top != original && Self.backing(top) == original, "the source moved onto an overlay")
        #expect(try Self.backing(s.guest.directory.path + "/\(names[0])-vda.qcow2") == original)
        var st = stat()
        #expect(stat(original, &st) == 0 && st.st_mode & 0o222 == 0, "the shared base is read-only")
        #expect(try ProcessRunner.run(["qemu-img", "check", top]).status == 0)

        let second = try Self.operation(try s.daemon.vigil(["vm", "clone", s.guest.name, names[1], "--linked", "--json"]))
        #expect(second.state == .succeeded, "\(second)")
        #expect(try DomainDefinitionProbe.diskPath(try s.guest.domain.xml()) == top, "the source did not move again")
        let secondDisk = s.guest.directory.path + "/\(names[1])-vda.qcow2"
        #expect(try Self.backing(secondDisk) == original, "the second clone shares the same base")
        #expect(!second.notes.contains { $0.contains("new overlays") }, "\(second.notes)")
        #expect(try ProcessRunner.run(["qemu-img", "compare", top, secondDisk]).status == 0, "the clone sees the source's data")

        // Once the source has run, its overlay holds data: the next clone freezes it in turn.
        #expect(try s.daemon.vigil(["vm", "start", s.guest.name]).status == 0)
        try await s.daemon.waitUntil("agent alive again") { try s.daemon.agentStatus(s.guest.name)?.state == .alive }
        try s.guest.waitForShell()
        #expect(try s.guest.run("echo later > /data/later && sync").status == 0)
        #expect(try s.daemon.vigil(["vm", "poweroff", s.guest.name, "--force"]).status == 0)
        try await s.daemon.waitUntil("source shut off") { try s.guest.domain.state().state == .shutoff }
        let third = try Self.operation(try s.daemon.vigil(["vm", "clone", s.guest.name, names[2], "--linked", "--json"]))
        #expect(third.state == .succeeded, "\(third)")
        let newTop = try DomainDefinitionProbe.diskPath(try s.guest.domain.xml())
        #expect(try newTop != top && Self.backing(newTop) == top)
        #expect(try Self.backing(s.guest.directory.path + "/\(names[2])-vda.qcow2") == top)

        // The newest clone boots with the data written before and after the first clone.
        #expect(try s.daemon.vigil(["vm", "start", names[2]]).status == 0)
        try await s.daemon.waitUntil("agent alive in \(names[2])") { try s.daemon.agentStatus(names[2])?.state == .alive }
        let socket = try Self.controlSocket(try s.conn.domain(named: names[2]))
        try await Self.waitForShell(socket)
        #expect(try Self.run(socket, "cat /data/marker /data/later").stdout.contains("\(marker)\nlater"))
        #expect(try s.daemon.vigil(["vm", "poweroff", names[2], "--force"]).status == 0)
    }

    @Test func killedVigildMidCloneIsRolledBackAtRestartAndCancelRemovesThePartialCopy() async throws {
        let conn = try Connection(uri: "qemu:///system")
        let dir = try TemporaryDirectory("vc")
        let store = try TemporaryDirectory("vcs")
        chmod(store.path, 0o755)
        let name = "vc-\(UUID().uuidString.prefix(6).lowercased())"
        defer {
            for n in [name, name + "-a", name + "-b", name + "-c"] {
                if let d = try? conn.domain(named: n) { try? d.destroy(); try? d.undefine() }
            }
            store.remove()
            dir.remove()
        }
        // A slow copy (8 MiB/s of 96 MiB) so there is time to kill vigild in the middle.
        var daemon = try DaemonProcess(connect: "qemu:///system", directory: dir, extraArguments: ["--copy-rate-limit", "8"])
        let created = try daemon.vigil(["vm", "create", name, "--memory", "128", "--disk", "1@\(store.path)",
                                        "--nic", "user,mac=52:54:00:0c:10:4e", "--virt-type", "qemu"])
        #expect(created.status == 0, "\(created.stderr)")
        let source = store.path + "/\(name)-disk1.qcow2"
        #expect(try ProcessRunner.run(["qemu-io", "-c", "write -P 0x5a 0 96M", source]).status == 0)

        let started = try Self.operation(try daemon.vigil(["vm", "clone", name, name + "-a", "--no-wait", "--json"]))
        #expect(started.state == .running)
        try await daemon.waitUntil("copy under way") {
            try Self.operation(try daemon.vigil(["op", "show", started.id, "--json"])).progress > 0.05
        }
        let partial = store.path + "/\(name)-a-vda.qcow2"
        #expect(FileManager.default.fileExists(atPath: partial))
        daemon.kill()
        daemon = try DaemonProcess(connect: "qemu:///system", directory: dir)
        try await daemon.waitUntil("rolled back at restart") {
            try Self.operation(try daemon.vigil(["op", "show", started.id, "--json"])).state == .rolledBack
        }
        #expect(!FileManager.default.fileExists(atPath: partial), "the partial copy is gone")
        #expect((try? conn.domain(named: name + "-a")) == nil, "no half-made VM")
        let copiers = try ProcessRunner.run(["pgrep", "-f", partial])
        #expect(copiers.stdout.isEmpty, "the orphaned qemu-img was stopped")
        #expect(try daemon.events().contains { $0.kind == "operation" && $0.message.contains("rolled back at restart") })

        // Cancel: same clean state.
        daemon.stop()
        daemon = try DaemonProcess(connect: "qemu:///system", directory: dir, extraArguments: ["--copy-rate-limit", "8"])
        let second = try Self.operation(try daemon.vigil(["vm", "clone", name, name + "-b", "--no-wait", "--json"]))
        try await daemon.waitUntil("copy under way") {
            try Self.operation(try daemon.vigil(["op", "show", second.id, "--json"])).progress > 0.05
        }
        #expect(try daemon.vigil(["op", "cancel", second.id]).status == 0)
        let cancelled = try Self.operation(try daemon.vigil(["op", "show", second.id, "--wait", "--json"]))
        #expect(cancelled.state == .cancelled, "\(cancelled)")
        #expect(!FileManager.default.fileExists(atPath: store.path + "/\(name)-b-vda.qcow2"))
        #expect((try? conn.domain(named: name + "-b")) == nil)

        // A finished full clone of the shut-off VM: same content, new identity.
        daemon.stop()
        daemon = try DaemonProcess(connect: "qemu:///system", directory: dir)
        let done = try Self.operation(try daemon.vigil(["vm", "clone", name, name + "-c", "--json"]))
        #expect(done.state == .succeeded, "\(done)")
        let copy = store.path + "/\(name)-c-vda.qcow2"
        #expect(try ProcessRunner.run(["qemu-img", "compare", source, copy]).status == 0)
        let xml = try conn.domain(named: name + "-c").xml()
        #expect(!xml.contains("52:54:00:0c:10:4e") && xml.contains("<mac address="), "a new MAC address")
        #expect(try conn.domain(named: name + "-c").uuid != conn.domain(named: name).uuid)

        // Refusals say what to do.
        let taken = try daemon.vigil(["vm", "clone", name, name + "-c"])
        #expect(taken.status != 0 && taken.stderr.contains("already exists"), "\(taken.stderr)")
        let badDir = try daemon.vigil(["vm", "clone", name, name + "-d", "--dir", "/nonexistent/dir"])
        #expect(badDir.status != 0 && badDir.stderr.contains("does not exist"), "\(badDir.stderr)")
        let noShared = try daemon.vigil(["vm", "clone", name, name + "-d", "--host", "qemu+tcp://127.0.0.9/system"])
        #expect(noShared.status != 0 && noShared.stderr.contains("shared storage"), "\(noShared.stderr)")
        // A VM with (internal) snapshots: a linked clone would strand them; refused, nothing moved.
        #expect(try ProcessRunner.run(["virsh", "-q", "snapshot-create-as", name, "s1"]).status == 0)
        let withSnapshot = try daemon.vigil(["vm", "clone", name, name + "-d", "--linked"])
        #expect(withSnapshot.status != 0 && withSnapshot.stderr.contains("has snapshots") && withSnapshot.stderr.contains("full clone"),
                "\(withSnapshot.stderr)")
        #expect(try DomainDefinitionProbe.diskPath(try conn.domain(named: name).xml()) == source, "the source was not moved")
        _ = try ProcessRunner.run(["virsh", "-q", "snapshot-delete", name, "s1"])
        daemon.stop()
    }
}

/// Reads the first disk's image path from domain XML (for assertions).
enum DomainDefinitionProbe {
    static func diskPath(_ xml: String) throws -> String {
        guard let r = xml.range(of: "<source file='") else { throw TestbedError("no disk in \(xml)") }
        return String(xml[r.upperBound...].prefix { $0 != "'" })
    }

    /// Every disk image file the definition names.
    static func diskPaths(_ xml: String) -> [String] {
        xml.components(separatedBy: "<source file='").dropFirst().map { String($0.prefix { $0 != "'" }) }
    }
}
