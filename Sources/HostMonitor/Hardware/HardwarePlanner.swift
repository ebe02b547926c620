import Core

/// Decides how a hardware change is made: online (the running VM and its
/// definition), in the definition only (effective at next boot), or not at
/// all, with what to do instead. Pure: it sees the persistent layout, the
/// live one (nil when the VM is off) and the request.
enum HardwarePlanner {
    struct CPUPlan: Equatable {
        /// A new maximum for the definition.
        var maxConfig: Int?
        var config: Int
        /// The running VM's new count (hot-add).
        var live: Int?
        var effective: HardwareEffect
    }

    struct MemoryPlan: Equatable {
        var maxConfigMiB: Int?
        var configMiB: Int
        /// The balloon's new target.
        var liveMiB: Int?
        var effective: HardwareEffect
    }

    struct DiskAddPlan: Equatable {
        var target: String
        var bus: String
        /// The new file's name (VM-TARGET.qcow2), and
        var fileName: String
        /// its path in the directory asked for; nil when it goes into a pool
        /// (the pool says where).
        var path: String?
        var live: Bool
    }

    struct DeviceRemovePlan: Equatable {
        var live: Bool
        var config: Bool
    }

    struct DiskGrowPlan: Equatable {
        var target: String
        var bytes: UInt64
        /// blockResize on the running VM; otherwise qemu-img resize of `path`.
        var live: Bool
        var path: String?
    }

    static let onlineBus = "virtio"

    static func cpu(_ r: CPUChangeRequest, config: HardwareLayout, live: HardwareLayout?) throws(APIError) -> CPUPlan {
        let max = r.max ?? config.maxVcpus
        guard (1...256).contains(r.vcpus), (1...256).contains(max) else {
            throw .badRequest("vCPUs must be 1 to 256, got \(r.vcpus)\(r.max.map { " (maximum \($0))" } ?? "")", hint: "vigil vm cpu VM N [--max M]")
        }
        guard r.vcpus <= max else {
            throw .badRequest("\(r.vcpus) vCPUs exceed the maximum of \(max)", hint: "raise the maximum too: --max \(r.vcpus) --next-boot")
        }
        let maxConfig = max != config.maxVcpus ? max : nil
        guard let live, r.nextBoot != true else { return CPUPlan(maxConfig: maxConfig, config: r.vcpus, live: nil, effective: .nextBoot) }
        if let m = r.max, m != live.maxVcpus {
            throw .conflict("the maximum vCPU count of a running VM cannot change",
                            hint: "add --next-boot to set the maximum to \(m) from the next boot")
        }
        if r.vcpus < live.vcpus {
            throw .conflict("the guest cannot unplug vCPUs online (it has \(live.vcpus), asked for \(r.vcpus))",
                            hint: "use --next-boot to have \(r.vcpus) from the next boot, or shut the VM down first")
        }
        if r.vcpus > live.maxVcpus {
            throw .conflict("\(r.vcpus) vCPUs exceed the running VM's maximum of \(live.maxVcpus)",
                            hint: "raise the maximum for the next boot: vigil vm cpu VM \(r.vcpus) --max \(r.vcpus) --next-boot")
        }
        return CPUPlan(maxConfig: nil, config: r.vcpus, live: r.vcpus, effective: .now)
    }

    static func memory(_ r: MemoryChangeRequest, config: HardwareLayout, live: HardwareLayout?) throws(APIError) -> MemoryPlan {
        let max = r.maxMiB ?? config.maxMemoryMiB
        guard (32...4_194_304).contains(r.mib), (32...4_194_304).contains(max) else {
            throw .badRequest("memory must be 32 MiB to 4 TiB, got \(r.mib) MiB\(r.maxMiB.map { " (maximum \($0) MiB)" } ?? "")",
                              hint: "vigil vm memory VM SIZE (e.g. 512M, 2G)")
        }
        guard r.mib <= max else {
            throw .badRequest("\(r.mib) MiB exceeds the maximum of \(max) MiB", hint: "raise the maximum too: --max \(r.mib)M --next-boot")
        }
        let maxConfig = max != config.maxMemoryMiB ? max : nil
        guard let live, r.nextBoot != true else { return MemoryPlan(maxConfigMiB: maxConfig, configMiB: r.mib, liveMiB: nil, effective: .nextBoot) }
        if let m = r.maxMiB, m != live.maxMemoryMiB {
            throw .conflict("the memory maximum of a running VM cannot change",
                            hint: "add --next-boot to set the maximum to \(m) MiB from the next boot")
        }
        if r.mib > live.maxMemoryMiB {
            throw .conflict("\(r.mib) MiB is above the running VM's maximum of \(live.maxMemoryMiB) MiB",
                            hint: "give at most \(live.maxMemoryMiB) MiB now, or raise the maximum for the next boot: --max \(r.mib)M --next-boot")
        }
        if !live.balloon {
            throw .conflict("the VM has no memory balloon, so its memory cannot change online",
                            hint: "use --next-boot, and add <memballoon model='virtio'/> to the VM for online changes")
        }
        return MemoryPlan(maxConfigMiB: nil, configMiB: r.mib, liveMiB: r.mib, effective: .now)
    }

    static func diskAdd(_ r: DiskAddRequest, vm: String, config: HardwareLayout, live: HardwareLayout?) throws(APIError) -> DiskAddPlan {
        let bus = r.bus ?? onlineBus
        let prefixes = ["virtio": "vd", "sata": "sd", "scsi": "sd", "ide": "hd"]
        guard let prefix = prefixes[bus] else {
            throw .badRequest("disk bus must be virtio, sata, scsi or ide, got '\(bus)'", hint: "omit --bus for virtio")
        }
        guard (1...67_108_864).contains(r.sizeMiB) else {
            throw .badRequest("disk size must be 1 MiB to 64 TiB, got \(r.sizeMiB) MiB", hint: "e.g. 512M, 20G")
        }
        switch (r.directory, r.pool) {
        case (let dir?, nil) where !dir.hasPrefix("/"):
            throw .badRequest("the storage directory must be an absolute path, got '\(dir)'", hint: "e.g. --dir /var/lib/libvirt/images")
        case (_?, nil), (nil, _?): break
        default: throw .badRequest("give either a storage directory or a storage pool", hint: "--dir DIR or --pool POOL")
        }
        let online = live != nil && r.nextBoot != true
        if online && bus != onlineBus {
            throw .conflict("a \(bus) disk cannot be added to a running VM (only virtio disks can be hot-plugged)",
                            hint: "use --bus virtio to add it now, or --next-boot to add the \(bus) disk from the next boot")
        }
        let used = Set(config.disks.map(\.target) + (live?.disks.map(\.target) ?? []))
        guard let target = DiskTargets.free(prefix, used: used) else {
            throw .conflict("no free \(prefix)* disk name left", hint: "remove a disk first")
        }
        let fileName = "\(vm)-\(target).qcow2"
        let path = r.directory.map { FileFacts.path(fileName, in: $0) }
        return DiskAddPlan(target: target, bus: bus, fileName: fileName, path: path, live: online)
    }

    static func diskRemove(_ target: String, nextBoot: Bool, deleteFile: Bool,
                           config: HardwareLayout, live: HardwareLayout?) throws(APIError) -> (DeviceRemovePlan, HardwareLayout.Disk) {
        let inConfig = config.disks.first { $0.target == target }
        let inLive = live?.disks.first { $0.target == target }
        guard let disk = inLive ?? inConfig else {
            throw .notFound("the VM has no disk \(target)", hint: "see its disks with 'vigil vm hardware VM'")
        }
        let online = inLive != nil && !nextBoot
        if online && disk.bus != onlineBus {
            throw .conflict("a \(disk.bus) disk cannot be removed from a running VM (only virtio disks can be unplugged)",
                            hint: "use --next-boot to remove \(target) from the next boot, or shut the VM down first")
        }
        if inLive != nil && !online && deleteFile {
            throw .conflict("the running VM still uses \(target)'s file",
                            hint: "remove it online (without --next-boot), or delete the file yourself after the next boot")
        }
        if !online && inConfig == nil {
            throw .conflict("\(target) is only in the running VM, not in its definition", hint: "remove it online (without --next-boot)")
        }
        return (DeviceRemovePlan(live: online, config: inConfig != nil), disk)
    }

    static func diskGrow(_ target: String, _ r: DiskGrowRequest, currentBytes: UInt64?,
                         config: HardwareLayout, live: HardwareLayout?) throws(APIError) -> DiskGrowPlan {
        guard let disk = (live ?? config).disks.first(where: { $0.target == target }) else {
            throw .notFound("the VM has no disk \(target)", hint: "see its disks with 'vigil vm hardware VM'")
        }
        guard (1...67_108_864).contains(r.sizeMiB) else {
            throw .badRequest("disk size must be 1 MiB to 64 TiB, got \(r.sizeMiB) MiB", hint: "give the new total size, e.g. 40G")
        }
        let bytes = UInt64(r.sizeMiB) * 1024 * 1024
        if let currentBytes, bytes <= currentBytes {
            throw .conflict("\(target) is already \(currentBytes / 1024 / 1024) MiB; disks only grow (shrinking loses data)",
                            hint: "give a size above \(currentBytes / 1024 / 1024) MiB")
        }
        if live != nil {
            guard disk.bus == onlineBus else {
                throw .conflict("the guest cannot see a \(disk.bus) disk grow while it runs (only virtio disks can)",
                                hint: "shut the VM down, then grow \(target) (it is resized offline)")
            }
            return DiskGrowPlan(target: target, bytes: bytes, live: true, path: nil)
        }
        guard let path = disk.source, disk.device == "disk" else {
            throw .conflict("\(target) has no disk file to resize", hint: "only file-backed disks can grow")
        }
        return DiskGrowPlan(target: target, bytes: bytes, live: false, path: path)
    }

    static func nicAdd(_ r: NICAddRequest, mac: String, config: HardwareLayout, live: HardwareLayout?) throws(APIError) -> Bool {
        var problems: [String] = []
        switch r.kind {
        case "user": break
        case "network", "bridge":
            if (r.source ?? "").isEmpty { problems.append("\(r.kind) needs a name, e.g. \(r.kind)=default") }
        default: problems.append("kind must be user, network or bridge, got '\(r.kind)'")
        }
        if let model = r.model, model.isEmpty || !model.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
            problems.append("model must be a name like virtio or e1000, got '\(model)'")
        }
        if !isMAC(mac) { problems.append("MAC must look like 52:54:00:12:34:56, got '\(mac)'") }
        guard problems.isEmpty else { throw .badRequest("cannot add the NIC: " + problems.joined(separator: "; "), hint: "see 'vigil vm nic add --help'") }
        if (config.nics + (live?.nics ?? [])).contains(where: { $0.mac == mac.lowercased() }) {
            throw .conflict("the VM already has a NIC with MAC \(mac)", hint: "omit --mac to get a new one")
        }
        return live != nil && r.nextBoot != true
    }

    static func nicRemove(_ mac: String, nextBoot: Bool, config: HardwareLayout, live: HardwareLayout?) throws(APIError) -> (DeviceRemovePlan, HardwareLayout.NIC) {
        let key = mac.lowercased()
        let inConfig = config.nics.first { $0.mac == key }
        let inLive = live?.nics.first { $0.mac == key }
        guard let nic = inLive ?? inConfig else {
            throw .notFound("the VM has no NIC with MAC \(mac)", hint: "see its NICs with 'vigil vm hardware VM'")
        }
        let online = inLive != nil && !nextBoot
        if !online && inConfig == nil {
            throw .conflict("the NIC \(mac) is only in the running VM, not in its definition", hint: "remove it online (without --next-boot)")
        }
        return (DeviceRemovePlan(live: online, config: inConfig != nil), nic)
    }

    static func isMAC(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isHexDigit) }
    }
}
