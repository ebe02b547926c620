import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Hardware changes through vigild and `vigil vm …` on a real guest, each
/// online change confirmed by what the agent reports from inside the guest
/// (and by the guest's own shell), and the refused online changes.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct HardwareTests {
    @Test func onlineAndNextBootChangesAsTheGuestSeesThem() async throws {
        let store = try TemporaryDirectory("vhw")
        defer { store.remove() }
        chmod(store.path, 0o755)
        let ideFile = store.path + "/ide.qcow2"
        #expect(try ProcessRunner.run(["qemu-img", "create", "-q", "-f", "qcow2", ideFile, "32M"]).status == 0)
        // 1 of 3 vCPUs, 256 MiB with a balloon, the data disk as vda, an IDE disk as hda.
        let s = try await ProtectionTests.protectedGuest(guestArguments: ["--max-vcpus", "3", "--balloon", "--memory", "256",
                                                                          "--extra-disk", "ide:hda:\(ideFile)"])
        defer { s.remove() }
        let vmName = s.guest.name
        func change(_ args: [String]) throws -> HardwareChangeResult {
            let r = try s.daemon.vigil(["vm"] + args + ["--json"])
            guard r.status == 0 else { throw TestbedError("vigil vm \(args) failed: \(r.stderr)") }
            return try JSONDecoder().decode(HardwareChangeResult.self, from: Data(r.stdout.utf8))
        }
        func refused(_ args: [String]) throws -> String {
            let r = try s.daemon.vigil(["vm"] + args)
            #expect(r.status != 0, "vigil vm \(args) should be refused: \(r.stdout)")
            return r.stderr
        }
        func shell(_ command: String) throws -> String { try s.guest.run(command).stdout }

        let before = try JSONDecoder().decode(HardwareReport.self, from: Data(try s.daemon.vigil(["vm", "hardware", vmName, "--json"]).stdout.utf8))
        #expect(before.running && before.live?.vcpus == 1 && before.live?.maxVcpus == 3 && before.live?.memoryMiB == 256)
        let guest0 = try #require(before.guest, "\(before.guestNote ?? "")")
        #expect(guest0.cpusOnline == 1)
        #expect(guest0.disks.contains { $0.name == "vda" })
        #expect(try s.daemon.vigil(["vm", "hardware", vmName]).stdout.contains("GUEST SEES"))

        // vCPU hot-add: the agent brings the new CPU online in the guest.
        let cpu = try change(["cpu", vmName, "2"])
        #expect(cpu.effective == .now)
        #expect(cpu.guest?.cpusOnline == 2, "\(cpu)")
        #expect(try shell("cat /sys/devices/system/cpu/online").contains("0-1"))
        // Added behind vigild's back (libvirt directly): the agent sees the
        // kernel's uevent and brings the CPU online without being asked.
        try s.guest.domain.setVcpus(3, .live)
        try await s.daemon.waitUntil("third CPU online in the guest", timeout: 30) {
            try shell("cat /sys/devices/system/cpu/online").contains("0-2")
        }
        // The agent logs after it wrote to sysfs: give the console a moment.
        try await s.daemon.waitUntil("the agent's log line for cpu2", timeout: 10) {
            s.guest.console.contains("vigil-agent: brought online: cpu2")
        }
        // Removing one online is refused with what to do instead; next boot works.
        let unplug = try refused(["cpu", vmName, "2"])
        #expect(unplug.contains("cannot unplug") && unplug.contains("--next-boot"), "\(unplug)")
        let logged = try s.daemon.events(vm: vmName).last { $0.kind == "hardware" }
        #expect(logged?.outcome == "refused" && logged?.message.contains("cannot unplug") == true, "\(String(describing: logged))")
        #expect(try refused(["cpu", vmName, "3", "--max", "4"]).contains("--next-boot"))
        let later = try change(["cpu", vmName, "1", "--next-boot"])
        #expect(later.effective == .nextBoot && later.notes.contains { $0.contains("next boot") })
        #expect(try s.guest.domain.vcpuCount(.config) == 1 && s.guest.domain.vcpuCount(.live) == 3)
        #expect(try s.guest.domain.xml([.inactive]).contains("current='1'"))

        // Balloon down and up within the maximum: MemTotal in the guest follows.
        let down = try change(["memory", vmName, "192M"])
        let downTotal = try #require(down.guest?.memTotalKiB)
        #expect(abs(Int(guest0.memTotalKiB) - Int(downTotal) - 64 * 1024) <= 4 * 1024, "MemTotal \(guest0.memTotalKiB) → \(downTotal) KiB")
        #expect(try shell("grep MemTotal /proc/meminfo").contains("\(downTotal) kB"))
        let up = try change(["memory", vmName, "240"])
        let upTotal = try #require(up.guest?.memTotalKiB)
        #expect(abs(Int(upTotal) - Int(downTotal) - 48 * 1024) <= 4 * 1024, "MemTotal \(downTotal) → \(upTotal) KiB")
        // The definition holds the target; the live size is the balloon's actual one, which lags it a little.
        #expect(try s.guest.domain.xml([.inactive]).contains("<currentMemory unit='KiB'>245760</currentMemory>"))
        let above = try refused(["memory", vmName, "512M"])
        #expect(above.contains("maximum of 256 MiB") && above.contains("--next-boot"), "\(above)")

        // NIC hot-add and removal.
        let nic = try change(["nic", "add", vmName, "user", "--mac", "52:54:00:5e:00:42"])
        #expect(nic.effective == .now && nic.guest?.nics.contains { $0.mac == "52:54:00:5e:00:42" } == true, "\(nic)")
        #expect(try shell("cat /sys/class/net/*/address").contains("52:54:00:5e:00:42"))
        let unnic = try change(["nic", "remove", vmName, "52:54:00:5e:00:42"])
        #expect(unnic.effective == .now && unnic.guest?.nics.contains { $0.mac == "52:54:00:5e:00:42" } == false, "\(unnic)")
        #expect(!(try shell("cat /sys/class/net/*/address").contains("52:54:00:5e:00:42")))

        // virtio disk: add (a real qcow2), grow, remove keeping the file.
        let disk = try change(["disk", "add", vmName, "64M", "--dir", store.path])
        #expect(disk.effective == .now && disk.device == "vdb", "\(disk)")
        let file = try #require(disk.path)
        #expect(try ProcessRunner.run(["qemu-img", "info", "-U", "--output=json", file]).stdout.contains("\"virtual-size\": 67108864"))
        #expect(disk.guest?.disks.contains { $0.name == "vdb" && $0.sizeBytes == 64 << 20 } == true, "\(disk)")
        let grown = try change(["disk", "grow", vmName, "vdb", "96M"])
        #expect(grown.guest?.disks.contains { $0.name == "vdb" && $0.sizeBytes == 96 << 20 } == true, "\(grown)")
        #expect(try shell("cat /sys/block/vdb/size").contains("\(96 << 11)"))
        let removed = try change(["disk", "remove", vmName, "vdb"])
        #expect(removed.effective == .now && removed.guest?.disks.contains { $0.name == "vdb" } == false, "\(removed)")
        #expect(FileManager.default.fileExists(atPath: file))
        // Added again (the file is in the way: refused), then removed with its file.
        #expect(try refused(["disk", "add", vmName, "64M", "--dir", store.path]).contains("exists"))
        try FileManager.default.removeItem(atPath: file)
        let again = try change(["disk", "add", vmName, "32M", "--dir", store.path])
        let gone = try change(["disk", "remove", vmName, "vdb", "--delete-file"])
        #expect(gone.guest?.disks.contains { $0.name == "vdb" } == false && gone.notes.contains { $0.contains("deleted") })
        #expect(!FileManager.default.fileExists(atPath: try #require(again.path)))

        // Non-virtio disks: online changes refused with what to do instead; next boot accepted.
        let sata = try refused(["disk", "add", vmName, "64M", "--dir", store.path, "--bus", "sata"])
        #expect(sata.contains("cannot be added to a running VM") && sata.contains("--next-boot"), "\(sata)")
        let growIDE = try refused(["disk", "grow", vmName, "hda", "64M"])
        #expect(growIDE.contains("ide disk") && growIDE.contains("shut the VM down"), "\(growIDE)")
        let unplugIDE = try refused(["disk", "remove", vmName, "hda"])
        #expect(unplugIDE.contains("cannot be removed from a running VM") && unplugIDE.contains("--next-boot"), "\(unplugIDE)")
        let ide = try change(["disk", "add", vmName, "64M", "--dir", store.path, "--bus", "ide", "--next-boot"])
        #expect(ide.effective == .nextBoot && ide.device == "hdb")
        #expect(try s.guest.domain.xml([.inactive]).contains("dev='hdb' bus='ide'"))
        #expect(try !s.guest.domain.xml().contains("dev='hdb'"))
        let dropIDE = try change(["disk", "remove", vmName, "hda", "--next-boot"])
        #expect(dropIDE.effective == .nextBoot && dropIDE.notes.contains { $0.contains("kept \(ideFile)") })
        #expect(try !s.guest.domain.xml([.inactive]).contains("dev='hda'") && s.guest.domain.xml().contains("dev='hda'"))

        // Off: every change is for the next boot; a disk grows with qemu-img.
        try s.guest.domain.destroy()
        let off = try JSONDecoder().decode(HardwareReport.self, from: Data(try s.daemon.vigil(["vm", "hardware", vmName, "--json"]).stdout.utf8))
        #expect(!off.running && off.live == nil && off.guest == nil && off.guestNote == "the VM is off")
        #expect(off.config.vcpus == 1 && off.config.disks.first { $0.target == "hdb" }?.sizeBytes == 64 << 20, "\(off.config)")
        let offGrow = try change(["disk", "grow", vmName, "hdb", "80M"])
        #expect(offGrow.effective == .nextBoot && offGrow.path == ide.path)
        #expect(try ProcessRunner.run(["qemu-img", "info", "--output=json", try #require(ide.path)]).stdout.contains("\"virtual-size\": 83886080"))
        #expect(try change(["memory", vmName, "512M", "--max", "512M"]).effective == .nextBoot)
        #expect(try s.guest.domain.xml([.inactive]).contains("<memory unit='KiB'>524288</memory>"))
        #expect(try change(["cpu", vmName, "2"]).effective == .nextBoot && s.guest.domain.vcpuCount(.config) == 2)

        let log = try s.daemon.events(vm: vmName).filter { $0.kind == "hardware" }
        let done = log.filter { $0.outcome == "succeeded" }, refusals = log.filter { $0.outcome == "refused" }
        #expect(done.compactMap(\.action) == ["cpu", "cpu", "memory", "memory", "nic-add", "nic-remove", "disk-add", "disk-grow",
                                              "disk-remove", "disk-add", "disk-remove", "disk-add", "disk-remove", "disk-grow", "memory", "cpu"], "\(log.map(\.message))")
        // Every refused request is in the log too, with its reason.
        #expect(refusals.compactMap(\.action) == ["cpu", "cpu", "memory", "disk-add", "disk-add", "disk-grow", "disk-remove"], "\(refusals.map(\.message))")
        #expect(done.count + refusals.count == log.count)
        #expect(log.contains { $0.message.contains("effective at next boot") })
    }
}
