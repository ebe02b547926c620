import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Templates through vigild on the real libvirtd: a real guest's disk made
/// into a template, deployed linked (boots, with the guest's data) and full,
/// exported and imported, a corrupted copy refused at deploy, edits,
/// conversion, and an OVA built here imported.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct TemplateTests {
    static func op(_ r: CommandResult) throws -> OperationInfo {
        guard r.stdout.contains("\"state\"") else { throw TestbedError("vigil failed (\(r.status)): \(r.stderr)") }
        return try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
    }

    static func show(_ daemon: DaemonProcess, _ name: String) throws -> TemplateInfo {
        let r = try daemon.vigil(["template", "show", name, "--json"])
        guard r.status == 0 else { throw TestbedError("template show: \(r.stderr)") }
        return try JSONDecoder().decode(TemplateInfo.self, from: Data(r.stdout.utf8))
    }

    @Test func templateRoundTripDeploysBootableVMsAndRefusesACorruptCopy() async throws {
        let vms = try TemporaryDirectory("vtv")
        chmod(vms.path, 0o755)
        let s = try await ProtectionTests.protectedGuest(["--vm-dir", vms.path])
        let t = "gold-\(s.guest.name)", linked = s.guest.name + "-l", full = s.guest.name + "-f", bad = s.guest.name + "-x"
        defer {
            for n in [linked, full, bad] { if let d = try? s.conn.domain(named: n) { try? d.destroy(); try? d.undefine() } }
            s.remove()
            vms.remove()
        }
        let marker = "tpl-\(UUID().uuidString.prefix(8))"
        #expect(try s.guest.run("echo \(marker) > /data/marker && sync").status == 0)
        #expect(try s.daemon.vigil(["vm", "poweroff", s.guest.name, "--force"]).status == 0)

        // Copy into a template; the VM stays.
        let made = try Self.op(try s.daemon.vigil(["template", "create", t, "--from", s.guest.name, "--description", "golden", "--json"]))
        #expect(made.state == .succeeded, "\(made)")
        #expect((try? s.conn.domain(named: s.guest.name)) != nil)
        let info = try Self.show(s.daemon, t)
        #expect(info.disks.map(\.target) == ["vda"] && info.disks[0].sha256.count == 64)
        #expect(info.vcpus == 2 && info.memoryMiB == 256 && info.source == s.guest.name)
        #expect(try Self.op(try s.daemon.vigil(["template", "verify", t, "--json"])).state == .succeeded)

        // Linked deploy boots with the template's data and its own name.
        let l = try Self.op(try s.daemon.vigil(["template", "deploy", t, linked, "--linked", "--start", "--json"]))
        #expect(l.state == .succeeded, "\(l)")
        let templateImage = s.daemon.stateDirectory + "/templates/\(t)/vda.qcow2"
        #expect(try CloneTests.backing(vms.path + "/\(linked)-vda.qcow2") == templateImage)
        try await s.daemon.waitUntil("agent alive in \(linked)") { try s.daemon.agentStatus(linked)?.state == .alive }
        let socket = try CloneTests.controlSocket(try s.conn.domain(named: linked))
        try await CloneTests.waitForShell(socket)
        #expect(try CloneTests.run(socket, "cat /data/marker").stdout.contains(marker))
        #expect(try CloneTests.run(socket, "hostname").stdout.contains(linked))
        #expect(try s.daemon.vigil(["vm", "poweroff", linked, "--force"]).status == 0)

        // Full deploy: independent of the template.
        #expect(try Self.op(try s.daemon.vigil(["template", "deploy", t, full, "--json"])).state == .succeeded)
        #expect(try CloneTests.backing(vms.path + "/\(full)-vda.qcow2") == nil)
        #expect(try s.conn.domain(named: full).uuid != s.conn.domain(named: linked).uuid)

        // In use by a linked clone: no delete, no disk growth.
        #expect(try Self.show(s.daemon, t).linkedClones == [linked])
        let del = try s.daemon.vigil(["template", "delete", t])
        #expect(del.status != 0 && del.stderr.contains(linked), "\(del.stderr)")
        let grow = try s.daemon.vigil(["template", "edit", t, "--grow", "vda=2"])
        #expect(grow.status != 0 && grow.stderr.contains("linked clones"), "\(grow.stderr)")

        // Export and import under another name: same checksums.
        let archive = vms.path + "/\(t).vtpl"
        #expect(try Self.op(try s.daemon.vigil(["template", "export", t, archive, "--json"])).state == .succeeded)
        let copyName = t + "-copy"
        #expect(try Self.op(try s.daemon.vigil(["template", "import", archive, "--name", copyName, "--json"])).state == .succeeded)
        #expect(try Self.show(s.daemon, copyName).disks.map(\.sha256) == info.disks.map(\.sha256))

        // Corrupt the imported copy: verify says so, deploy refuses and leaves nothing.
        let copyImage = s.daemon.stateDirectory + "/templates/\(copyName)/vda.qcow2"
        chmod(copyImage, 0o644)
        let fh = try #require(FileHandle(forWritingAtPath: copyImage))
        try fh.seek(toOffset: 1 << 20)
        try fh.write(contentsOf: Data("corrupted".utf8))
        try fh.close()
        let verify = try Self.op(try s.daemon.vigil(["template", "verify", copyName, "--json"]))
        #expect(verify.state == .failed && (verify.error ?? "").contains("checksum"), "\(verify)")
        let refused = try Self.op(try s.daemon.vigil(["template", "deploy", copyName, bad, "--json"]))
        #expect(refused.state == .failed && (refused.error ?? "").contains("integrity"), "\(refused)")
        #expect((try? s.conn.domain(named: bad)) == nil)
        #expect(!FileManager.default.fileExists(atPath: vms.path + "/\(bad)-vda.qcow2"))

        // Edits once no linked clone is left.
        if let d = try? s.conn.domain(named: linked) { try d.undefine() }
        let edited = try Self.op(try s.daemon.vigil(["template", "edit", t, "--vcpus", "1", "--memory", "192", "--grow", "vda=2", "--add-disk", "1", "--json"]))
        #expect(edited.state == .succeeded, "\(edited)")
        let after = try Self.show(s.daemon, t)
        #expect(after.vcpus == 1 && after.memoryMiB == 192 && after.disks[0].virtualSize > info.disks[0].virtualSize)
        #expect(after.disks[0].sha256 != info.disks[0].sha256)
        #expect(after.disks.map(\.target) == ["vda", "vdb"] && after.disks[1].virtualSize == 1 << 30 && after.disks[1].sha256.count == 64)
        #expect(try Self.op(try s.daemon.vigil(["template", "verify", t, "--json"])).state == .succeeded)
        #expect(try s.daemon.vigil(["template", "delete", t]).status == 0)

        // Convert: the VM itself becomes the template.
        let conv = try Self.op(try s.daemon.vigil(["template", "create", t + "-c", "--from", s.guest.name, "--convert", "--json"]))
        #expect(conv.state == .succeeded, "\(conv)")
        #expect((try? s.conn.domain(named: s.guest.name)) == nil, "the converted VM is no longer a VM")
        #expect(try Self.show(s.daemon, t + "-c").disks.count == 1)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: s.daemon.stateDirectory + "/templates").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "staging directories left: \(leftovers)")
    }

    /// An OVA as other hypervisors export it: OVF + streamOptimized VMDK + .mf.
    @Test func ovaBuiltHereImportsAsATemplateAndHostileOnesAreRefused() async throws {
        let dir = try TemporaryDirectory("vto")
        chmod(dir.path, 0o755)
        let state = try TemporaryDirectory("vtd")
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: state, extraArguments: ["--vm-dir", dir.path])
        let vm = "ova-\(UUID().uuidString.prefix(6).lowercased())"
        defer {
            if let d = try? Connection(uri: "qemu:///system").domain(named: vm) { try? d.undefine() }
            daemon.stop()
            state.remove()
            dir.remove()
        }
        let raw = dir.path + "/src.qcow2", vmdk = dir.path + "/disk1.vmdk"
        #expect(try ProcessRunner.run(["qemu-img", "create", "-q", "-f", "qcow2", raw, "256M"]).status == 0)
        #expect(try ProcessRunner.run(["qemu-io", "-c", "write -P 0x3c 1M 8M", raw]).status == 0)
        #expect(try ProcessRunner.run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk]).status == 0)
        func ova(_ name: String, ovf: String, mf: String? = nil, extra: [String] = []) throws -> String {
            try ovf.write(toFile: dir.path + "/app.ovf", atomically: true, encoding: .utf8)
            var files = ["app.ovf", "disk1.vmdk"] + extra
            if let mf { try mf.write(toFile: dir.path + "/app.mf", atomically: true, encoding: .utf8); files.append("app.mf") }
            let path = dir.path + "/\(name).ova"
            let r = try ProcessRunner.run(["tar", "-cf", path, "-C", dir.path] + files)
            guard r.status == 0 else { throw TestbedError("tar: \(r.stderr)") }
            return path
        }
        let ovf = OVFEnvelopeFixture.ovf(href: "disk1.vmdk")
        let digest = try ProcessRunner.run(["sha256sum", vmdk]).stdout.prefix(64)
        let good = try ova("good", ovf: ovf, mf: "SHA256(disk1.vmdk)= \(digest)\n")

        let r = try Self.op(try daemon.vigil(["template", "import-ova", good, "--name", vm + "-t", "--virt-type", "qemu", "--json"]))
        #expect(r.state == .succeeded, "\(r)")
        let t = try Self.show(daemon, vm + "-t")
        #expect(t.vcpus == 2 && t.memoryMiB == 384 && t.disks.count == 1 && t.disks[0].virtualSize == 256 << 20)
        let image = daemon.stateDirectory + "/templates/\(vm)-t/vda.qcow2"
        #expect(try ProcessRunner.run(["qemu-img", "compare", vmdk, image]).status == 0, "same content as the VMDK")
        #expect(try Self.op(try daemon.vigil(["template", "deploy", vm + "-t", vm, "--json"])).state == .succeeded)
        let xml = try Connection(uri: "qemu:///system").domain(named: vm).xml()
        #expect(xml.contains("<vcpu placement='static'>2</vcpu>") && xml.contains("393216"), "\(xml)")

        // Hostile or damaged OVAs: refused, nothing left behind.
        let badSum = try ova("badsum", ovf: ovf, mf: "SHA256(disk1.vmdk)= \(String(repeating: "0", count: 64))\n")
        let e1 = try Self.op(try daemon.vigil(["template", "import-ova", badSum, "--name", "bad1", "--json"]))
        #expect(e1.state == .failed && (e1.error ?? "").contains("manifest"), "\(e1)")
        let escape = try ova("escape", ovf: OVFEnvelopeFixture.ovf(href: "../../etc/shadow"))
        let e2 = try Self.op(try daemon.vigil(["template", "import-ova", escape, "--name", "bad2", "--json"]))
        #expect(e2.state == .failed && (e2.error ?? "").contains("plain file"), "\(e2)")
        _ = try ProcessRunner.run(["ln", "-sf", "/etc/passwd", dir.path + "/link.vmdk"])
        let linkOVA = try ova("link", ovf: ovf, extra: ["link.vmdk"])
        let e3 = try Self.op(try daemon.vigil(["template", "import-ova", linkOVA, "--name", "bad3", "--json"]))
        #expect(e3.state == .failed && (e3.error ?? "").contains("not a plain file"), "\(e3)")
        let names = try FileManager.default.contentsOfDirectory(atPath: daemon.stateDirectory + "/templates")
        #expect(names == [vm + "-t"], "only the good import is left: \(names)")
    }
}

enum OVFEnvelopeFixture {
    static func ovf(href: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
                  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
          <References><File ovf:id="file1" ovf:href="\(href)"/></References>
          <DiskSection><Info>disks</Info><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="256" ovf:capacityAllocationUnits="byte * 2^20"/></DiskSection>
          <VirtualSystem ovf:id="appliance"><Info>vm</Info><Name>appliance</Name>
            <VirtualHardwareSection><Info>hw</Info>
              <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
              <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>384</rasd:VirtualQuantity></Item>
              <Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>
              <Item><rasd:Connection>VM Network</rasd:Connection><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>10</rasd:ResourceType></Item>
            </VirtualHardwareSection>
          </VirtualSystem>
        </Envelope>
        """
    }
}
