import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// `vigil vm create` against the real libvirtd: the definition and the qcow2
/// disks it makes, and the refusals that leave nothing behind.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct VMCreateTests {
    @Test func createsAndStartsAVMFromParameters() async throws {
        let conn = try Connection(uri: "qemu:///system")
        let dir = try TemporaryDirectory("vk")
        defer { dir.remove() }
        let store = try TemporaryDirectory("vks")
        defer { store.remove() }
        chmod(store.path, 0o755)
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir)
        defer { daemon.stop() }
        let name = "vk-\(UUID().uuidString.prefix(6).lowercased())"
        defer {
            if let d = try? conn.domain(named: name) { try? d.destroy(); try? d.undefine() }
        }

        let r = try daemon.vigil(["vm", "create", name, "--vcpus", "2", "--memory", "256", "--disk", "1@\(store.path)",
                                  "--nic", "user", "--nic", "user,mac=52:54:00:aa:bb:cc", "--boot", "hd,network",
                                  "--virt-type", "qemu", "--start", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let vm = try JSONDecoder().decode(VMSummary.self, from: Data(r.stdout.utf8))
        #expect(vm.state == "running")

        let xml = try conn.domain(named: name).xml()
        #expect(xml.contains("<vcpu placement='static'>2</vcpu>"), "\(xml)")
        #expect(xml.contains("<memory unit='KiB'>262144</memory>"))
        #expect(xml.contains("<boot dev='hd'/>\n    <boot dev='network'/>"))
        #expect(xml.contains("52:54:00:aa:bb:cc"))
        #expect(xml.components(separatedBy: "<interface type='user'>").count == 3)
        #expect(xml.contains("<on_crash>preserve</on_crash>") && xml.contains("<panic model='isa'"))
        #expect(xml.contains("org.vigil.agent.0") && xml.contains("org.qemu.guest_agent.0"))
        let disk = store.path + "/\(name)-disk1.qcow2"
        let info = try ProcessRunner.run(["qemu-img", "info", "-U", "--output=json", disk])
        #expect(info.stdout.contains("\"virtual-size\": 1073741824") && info.stdout.contains("\"format\": \"qcow2\""), "\(info.stdout)")
        #expect(try daemon.events(vm: name).contains { $0.action == "create" })

        // Boot order: changed in the persistent definition, next boot for a running VM.
        let boot = try daemon.vigil(["vm", "boot-order", name, "cdrom,hd", "--json"])
        let order = try JSONDecoder().decode(BootOrder.self, from: Data(boot.stdout.utf8))
        #expect(order.devices == ["cdrom", "hd"] && order.effective == "next boot", "\(boot.stdout) \(boot.stderr)")
        #expect(try conn.domain(named: name).xml([.inactive]).contains("<boot dev='cdrom'/>\n    <boot dev='hd'/>"))
        let badBoot = try daemon.vigil(["vm", "boot-order", name, "usb"])
        #expect(badBoot.status != 0 && badBoot.stderr.contains("hd, cdrom, network, fd"), "\(badBoot.stderr)")

        // The same name again: refused, and no second disk appears.
        let again = try daemon.vigil(["vm", "create", name, "--disk", "1@\(store.path)", "--virt-type", "qemu"])
        #expect(again.status != 0 && again.stderr.contains("exists"), "\(again.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.path).count == 1)
    }

    /// Disks as qcow2 volumes of a libvirt directory pool; pools that are
    /// missing, stopped or not file-backed are refused before anything is
    /// made; a VM that cannot start is rolled back with its volume.
    @Test func disksInAStoragePoolAndRollbackOfAFailedStart() async throws {
        let conn = try Connection(uri: "qemu:///system")
        let dir = try TemporaryDirectory("vk")
        defer { dir.remove() }
        let store = try TemporaryDirectory("vkp")
        defer { store.remove() }
        chmod(store.path, 0o755)
        let tag = UUID().uuidString.prefix(6).lowercased()
        let name = "vkp-\(tag)", poolName = "vkp-\(tag)", idle = "vkp-\(tag)-idle", lvm = "vkp-\(tag)-lvm"
        defer {
            for n in [name, name + "-b"] {
                if let d = try? conn.domain(named: n) { try? d.destroy(); try? d.undefine() }
            }
            for n in [poolName, idle, lvm] {
                guard let p = try? conn.storagePool(named: n) else { continue }
                try? p.destroy()
                try? p.undefine()
            }
        }
        let pool = try conn.defineStoragePool(xml: "<pool type='dir'><name>\(poolName)</name><target><path>\(store.path)</path></target></pool>")
        try pool.start()
        try FileManager.default.createDirectory(atPath: store.path + "/idle", withIntermediateDirectories: true)
        _ = try conn.defineStoragePool(xml: "<pool type='dir'><name>\(idle)</name><target><path>\(store.path)/idle</path></target></pool>")
        _ = try conn.defineStoragePool(xml: "<pool type='logical'><name>\(lvm)</name><source><name>\(lvm)</name></source><target><path>/dev/\(lvm)</path></target></pool>")
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir)
        defer { daemon.stop() }

        let r = try daemon.vigil(["vm", "create", name, "--memory", "128", "--disk", "1@pool:\(poolName)", "--virt-type", "qemu", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let disk = store.path + "/\(name)-disk1.qcow2"
        #expect(try DomainDefinitionProbe.diskPath(try conn.domain(named: name).xml()) == disk)
        #expect(try pool.volume(named: "\(name)-disk1.qcow2").path() == disk, "the disk is a volume of the pool")
        let info = try ProcessRunner.run(["qemu-img", "info", "-U", "--output=json", disk])
        #expect(info.stdout.contains("\"virtual-size\": 1073741824") && info.stdout.contains("\"format\": \"qcow2\""), "\(info.stdout)")

        // A disk added later goes into the pool too (the VM is off: next boot).
        let added = try daemon.vigil(["vm", "disk", "add", name, "64M", "--pool", poolName, "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        let change = try JSONDecoder().decode(HardwareChangeResult.self, from: Data(added.stdout.utf8))
        #expect(change.effective == .nextBoot && change.path == store.path + "/\(name)-vdb.qcow2", "\(change)")
        #expect(try pool.volume(named: "\(name)-vdb.qcow2").path() == change.path)
        let noPool = try daemon.vigil(["vm", "disk", "add", name, "64M", "--pool", "nosuch-\(tag)"])
        #expect(noPool.status != 0 && noPool.stderr.contains("no storage pool"), "\(noPool.stderr)")
        let both = try daemon.vigil(["vm", "disk", "add", name, "64M", "--pool", poolName, "--dir", store.path])
        #expect(both.status != 0 && both.stderr.contains("--dir DIR or --pool POOL"), "\(both.stderr)")

        // Every pool problem at once, nothing made.
        let refused = try daemon.vigil(["vm", "create", name + "-b", "--disk", "1@pool:nosuch-\(tag)", "--disk", "1@pool:\(idle)",
                                        "--disk", "1@pool:\(lvm)", "--virt-type", "qemu"])
        #expect(refused.status != 0, "\(refused.stdout)")
        for text in ["no storage pool 'nosuch-\(tag)'", "'\(idle)' is not active", "logical pool", "directory-backed"] {
            #expect(refused.stderr.contains(text), "missing '\(text)' in: \(refused.stderr)")
        }
        #expect((try? conn.domain(named: name + "-b")) == nil)
        // The same volume name again: refused.
        let again = try daemon.vigil(["vm", "create", name, "--disk", "1@pool:\(poolName)", "--virt-type", "qemu"])
        #expect(again.status != 0 && again.stderr.contains("exists"), "\(again.stderr)")

        // Defined, then the start fails (no such network): rolled back, volume and all.
        let failed = try daemon.vigil(["vm", "create", name + "-b", "--memory", "128", "--disk", "1@pool:\(poolName)",
                                       "--nic", "network=nosuch-\(tag)", "--virt-type", "qemu", "--start"])
        #expect(failed.status != 0 && failed.stderr.contains("nosuch-\(tag)") && failed.stderr.contains("rolled back"), "\(failed.stderr)")
        #expect((try? conn.domain(named: name + "-b")) == nil, "no half-made VM")
        #expect(!FileManager.default.fileExists(atPath: store.path + "/\(name)-b-disk1.qcow2"), "no orphaned disk")
        try pool.refresh()
        #expect((try? pool.volume(named: "\(name)-b-disk1.qcow2")) == nil)
    }

    @Test func badParametersAreAllReportedAndNothingIsMade() throws {
        let dir = try TemporaryDirectory("vk")
        defer { dir.remove() }
        let store = try TemporaryDirectory("vks")
        defer { store.remove() }
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir)
        defer { daemon.stop() }
        let r = try daemon.vigil(["vm", "create", "bad name", "--memory", "8", "--disk", "1@\(store.path)",
                                  "--disk", "1@/nonexistent/dir", "--nic", "bridge=br0,mac=zz", "--boot", "floppy"])
        #expect(r.status != 0)
        for text in ["name must be", "memory must be", "/nonexistent/dir", "MAC must", "boot device"] {
            #expect(r.stderr.contains(text), "missing '\(text)' in: \(r.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.path).isEmpty)
    }

    /// The test guest made by Vigil's own command, as the demo makes it: a
    /// directly booted kernel, a qcow2 overlay on the image's data disk, the
    /// console in a file and a root shell on a second serial port; vigild
    /// protects it like any guest. Bad kernel, initrd and base paths are
    /// refused together, before anything is made.
    @Test func createsADirectlyBootedGuestOnABaseImage() async throws {
        let image = try Testbed.requireImage()
        let conn = try Connection(uri: "qemu:///system")
        let dir = try TemporaryDirectory("vkb")
        defer { dir.remove() }
        let store = try TemporaryDirectory("vkbs")
        defer { store.remove() }
        chmod(store.path, 0o755)
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir)
        defer { daemon.stop() }
        let name = "vkb-\(UUID().uuidString.prefix(6).lowercased())"
        defer {
            if let d = try? conn.domain(named: name) { try? d.destroy(); try? d.undefine() }
        }
        let bad = try daemon.vigil(["vm", "create", name, "--virt-type", "qemu", "--kernel", "/nonexistent/vmlinuz",
                                    "--cmdline", "x", "--disk-from", "/nonexistent/base.qcow2@\(store.path)"])
        #expect(bad.status != 0 && bad.stderr.contains("kernel '/nonexistent/vmlinuz'") && bad.stderr.contains("base image"), "\(bad.stderr)")
        let noKernel = try daemon.vigil(["vm", "create", name, "--virt-type", "qemu", "--initrd", image + "/initrd.img"])
        #expect(noKernel.status != 0 && noKernel.stderr.contains("needs --kernel"), "\(noKernel.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.path).isEmpty)

        let ctl = store.path + "/ctl.sock", console = store.path + "/console.log"
        let r = try daemon.vigil(["vm", "create", name, "--virt-type", "qemu", "--memory", "256",
                                  "--kernel", image + "/vmlinuz", "--initrd", image + "/initrd.img",
                                  "--cmdline", "console=ttyS0 panic=0 vigil.hostname=\(name)",
                                  "--disk-from", "\(image)/data.qcow2@\(store.path)",
                                  "--console-log", console, "--serial-socket", ctl, "--start", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let disk = store.path + "/\(name)-disk1.qcow2"
        let info = try ProcessRunner.run(["qemu-img", "info", "-U", "--output=json", disk])
        #expect(info.stdout.contains("\"backing-filename\": \"\(image)/data.qcow2\""), "\(info.stdout)")
        let xml = try conn.domain(named: name).xml([.inactive])
        #expect(xml.contains("<kernel>\(image)/vmlinuz</kernel>") && xml.contains("<initrd>\(image)/initrd.img</initrd>"), "\(xml)")
        try await daemon.waitUntil("agent alive", timeout: 120) { try daemon.agentStatus(name)?.state == .alive }
        // The root shell on the second serial port, and the image's data through the overlay.
        let shell = try ProcessRunner.run([Testbed.script("guest-run"), ctl, "hostname; ls /data"], timeout: 40)
        #expect(shell.status == 0 && shell.stdout.contains(name), "\(shell.stdout) \(shell.stderr)")
        #expect((try? String(contentsOfFile: console, encoding: .utf8))?.contains("Linux version") == true)
    }
}
