import Core
import Testing
@testable import HostMonitor

/// Online, next-boot and refused hardware changes, decided from the
/// persistent and live layouts alone.
@Suite struct HardwarePlannerTests {
    static let config = HardwareLayout(vcpus: 1, maxVcpus: 2, memoryMiB: 192, maxMemoryMiB: 256, balloon: true,
                                       disks: [.init(target: "vda", bus: "virtio", source: "/s/a.qcow2"),
                                               .init(target: "hda", bus: "ide", source: "/s/ide.qcow2")],
                                       nics: [.init(mac: "52:54:00:00:00:01", kind: "user", model: "virtio")])
    static let live = config

    /// The refusal's message and hint, or nil when it was not refused.
    func refusal(_ body: () throws -> Void) -> (status: Int, text: String)? {
        do { try body() } catch let error as APIError {
            return (error.status.code, error.body.error + " / " + (error.body.hint ?? ""))
        } catch {
            Issue.record("not an APIError: \(error)")
        }
        return nil
    }

    @Test func cpuAddOnlineUpToTheMaximum() throws {
        let plan = try HardwarePlanner.cpu(.init(vcpus: 2), config: Self.config, live: Self.live)
        #expect(plan == .init(maxConfig: nil, config: 2, live: 2, effective: .now))
    }

    @Test func cpuChangesOfAStoppedVMAreForTheNextBoot() throws {
        let plan = try HardwarePlanner.cpu(.init(vcpus: 4, max: 8), config: Self.config, live: nil)
        #expect(plan == .init(maxConfig: 8, config: 4, live: nil, effective: .nextBoot))
        #expect(try HardwarePlanner.cpu(.init(vcpus: 1, nextBoot: true), config: Self.config, live: Self.live).effective == .nextBoot)
    }

    @Test func cpuRefusalsSayWhatToDoInstead() {
        var live = Self.live
        live.vcpus = 2
        let unplug = refusal { _ = try HardwarePlanner.cpu(.init(vcpus: 1), config: Self.config, live: live) }
        #expect(unplug?.status == 409 && unplug?.text.contains("cannot unplug") == true && unplug?.text.contains("--next-boot") == true)
        let aboveMax = refusal { _ = try HardwarePlanner.cpu(.init(vcpus: 3), config: Self.config, live: Self.live) }
        #expect(aboveMax?.status == 400 && aboveMax?.text.contains("--max 3 --next-boot") == true, "\(String(describing: aboveMax))")
        let newMax = refusal { _ = try HardwarePlanner.cpu(.init(vcpus: 2, max: 4), config: Self.config, live: Self.live) }
        #expect(newMax?.status == 409 && newMax?.text.contains("--next-boot") == true)
        #expect(refusal { _ = try HardwarePlanner.cpu(.init(vcpus: 0), config: Self.config, live: nil) }?.status == 400)
    }

    @Test func memoryOnlineIsTheBalloonWithinTheMaximum() throws {
        #expect(try HardwarePlanner.memory(.init(mib: 256), config: Self.config, live: Self.live)
                == .init(maxConfigMiB: nil, configMiB: 256, liveMiB: 256, effective: .now))
        let above = refusal { _ = try HardwarePlanner.memory(.init(mib: 512, maxMiB: 512), config: Self.config, live: Self.live) }
        #expect(above?.status == 409 && above?.text.contains("--next-boot") == true)
        let overMax = refusal { _ = try HardwarePlanner.memory(.init(mib: 512), config: Self.config, live: Self.live) }
        #expect(overMax?.text.contains("maximum") == true && overMax?.text.contains("--next-boot") == true)
        var noBalloon = Self.live
        noBalloon.balloon = false
        let balloon = refusal { _ = try HardwarePlanner.memory(.init(mib: 128), config: Self.config, live: noBalloon) }
        #expect(balloon?.text.contains("no memory balloon") == true && balloon?.text.contains("--next-boot") == true)
        #expect(try HardwarePlanner.memory(.init(mib: 512, maxMiB: 1024, nextBoot: true), config: Self.config, live: Self.live)
                == .init(maxConfigMiB: 1024, configMiB: 512, liveMiB: nil, effective: .nextBoot))
    }

    @Test func disksOnlineOnlyOnVirtio() throws {
        let add = try HardwarePlanner.diskAdd(.init(sizeMiB: 64, directory: "/s/"), vm: "g", config: Self.config, live: Self.live)
        #expect(add == .init(target: "vdb", bus: "virtio", fileName: "g-vdb.qcow2", path: "/s/g-vdb.qcow2", live: true))
        let pooled = try HardwarePlanner.diskAdd(.init(sizeMiB: 64, pool: "data"), vm: "g", config: Self.config, live: Self.live)
        #expect(pooled.path == nil && pooled.fileName == "g-vdb.qcow2")
        #expect(refusal { _ = try HardwarePlanner.diskAdd(.init(sizeMiB: 64, directory: "/s", pool: "data"), vm: "g", config: Self.config, live: nil) }?.status == 400)
        #expect(refusal { _ = try HardwarePlanner.diskAdd(.init(sizeMiB: 64), vm: "g", config: Self.config, live: nil) }?.status == 400)
        let sata = refusal { _ = try HardwarePlanner.diskAdd(.init(sizeMiB: 64, directory: "/s", bus: "sata"), vm: "g", config: Self.config, live: Self.live) }
        #expect(sata?.status == 409 && sata?.text.contains("--bus virtio") == true && sata?.text.contains("--next-boot") == true)
        let ide = try HardwarePlanner.diskAdd(.init(sizeMiB: 64, directory: "/s", bus: "ide", nextBoot: true), vm: "g", config: Self.config, live: Self.live)
        #expect(ide.target == "hdb" && !ide.live)
        #expect(refusal { _ = try HardwarePlanner.diskAdd(.init(sizeMiB: 64, directory: "rel"), vm: "g", config: Self.config, live: nil) }?.status == 400)
        #expect(refusal { _ = try HardwarePlanner.diskAdd(.init(sizeMiB: 64, directory: "/s", bus: "floppy"), vm: "g", config: Self.config, live: nil) }?.status == 400)

        let (remove, disk) = try HardwarePlanner.diskRemove("vda", nextBoot: false, deleteFile: true, config: Self.config, live: Self.live)
        #expect(remove == .init(live: true, config: true) && disk.source == "/s/a.qcow2")
        let unplugIDE = refusal { _ = try HardwarePlanner.diskRemove("hda", nextBoot: false, deleteFile: false, config: Self.config, live: Self.live) }
        #expect(unplugIDE?.text.contains("--next-boot") == true)
        #expect(try HardwarePlanner.diskRemove("hda", nextBoot: true, deleteFile: false, config: Self.config, live: Self.live).0 == .init(live: false, config: true))
        // The running VM still has the file open: deleting it now is refused.
        #expect(refusal { _ = try HardwarePlanner.diskRemove("vda", nextBoot: true, deleteFile: true, config: Self.config, live: Self.live) }?.status == 409)
        #expect(refusal { _ = try HardwarePlanner.diskRemove("vdz", nextBoot: false, deleteFile: false, config: Self.config, live: Self.live) }?.status == 404)
    }

    @Test func disksOnlyGrowAndNonVirtioOnlyOffline() throws {
        let online = try HardwarePlanner.diskGrow("vda", .init(sizeMiB: 128), currentBytes: 64 << 20, config: Self.config, live: Self.live)
        #expect(online == .init(target: "vda", bytes: 128 << 20, live: true, path: nil))
        let offline = try HardwarePlanner.diskGrow("hda", .init(sizeMiB: 128), currentBytes: 64 << 20, config: Self.config, live: nil)
        #expect(offline == .init(target: "hda", bytes: 128 << 20, live: false, path: "/s/ide.qcow2"))
        let ide = refusal { _ = try HardwarePlanner.diskGrow("hda", .init(sizeMiB: 128), currentBytes: 64 << 20, config: Self.config, live: Self.live) }
        #expect(ide?.status == 409 && ide?.text.contains("shut the VM down") == true)
        let shrink = refusal { _ = try HardwarePlanner.diskGrow("vda", .init(sizeMiB: 32), currentBytes: 64 << 20, config: Self.config, live: Self.live) }
        #expect(shrink?.text.contains("only grow") == true)
    }

    @Test func nicsHotPlugAndCheckTheirParameters() throws {
        #expect(try HardwarePlanner.nicAdd(.init(kind: "user"), mac: "52:54:00:00:00:02", config: Self.config, live: Self.live))
        #expect(try !HardwarePlanner.nicAdd(.init(kind: "user"), mac: "52:54:00:00:00:02", config: Self.config, live: nil))
        let bad = refusal { _ = try HardwarePlanner.nicAdd(.init(kind: "bridge", model: "e1000<"), mac: "zz", config: Self.config, live: nil) }
        #expect(bad?.status == 400 && bad?.text.contains("bridge=default") == true && bad?.text.contains("model") == true
                && bad?.text.contains("MAC") == true)
        #expect(refusal { _ = try HardwarePlanner.nicAdd(.init(kind: "user"), mac: "52:54:00:00:00:01", config: Self.config, live: nil) }?.status == 409)
        #expect(try HardwarePlanner.nicRemove("52:54:00:00:00:01", nextBoot: false, config: Self.config, live: Self.live).0 == .init(live: true, config: true))
        #expect(refusal { _ = try HardwarePlanner.nicRemove("52:54:00:00:00:09", nextBoot: false, config: Self.config, live: nil) }?.status == 404)
    }

    @Test func layoutFromLibvirtXML() {
        let xml = """
        <domain type='qemu' id='5'>
          <name>g</name>
          <memory unit='KiB'>262144</memory>
          <currentMemory unit='KiB'>196608</currentMemory>
          <vcpu placement='static' current='1'>2</vcpu>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='/s/a.qcow2' index='2'/>
              <backingStore type='file' index='3'><format type='qcow2'/><source file='/img/data.qcow2'/></backingStore>
              <target dev='vda' bus='virtio'/>
            </disk>
            <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
            <interface type='network'>
              <mac address='52:54:00:AB:CD:EF'/>
              <source network='default' portid='x' bridge='virbr0'/>
              <model type='virtio'/>
            </interface>
            <memballoon model='virtio'>
              <alias name='balloon0'/>
            </memballoon>
          </devices>
        </domain>
        """
        let l = HardwareXML.layout(xml)
        #expect(l.vcpus == 1 && l.maxVcpus == 2 && l.memoryMiB == 192 && l.maxMemoryMiB == 256 && l.balloon)
        #expect(l.disks == [.init(target: "vda", bus: "virtio", source: "/s/a.qcow2"), .init(target: "hdc", bus: "ide", device: "cdrom")])
        #expect(l.nics == [.init(mac: "52:54:00:ab:cd:ef", kind: "network", source: "default", model: "virtio")])
        let plain = HardwareXML.layout("<domain><memory unit='MiB'>512</memory><vcpu>4</vcpu><devices><memballoon model='none'/></devices></domain>")
        #expect(plain.vcpus == 4 && plain.maxVcpus == 4 && plain.memoryMiB == 512 && !plain.balloon)
    }
}
