import Core
import Foundation
import Libvirt

/// Hardware changes (`/v1/vms/{vm}/hardware…`): planned by `HardwarePlanner`,
/// made by `HardwarePerformer`, logged, and for online changes confirmed by
/// asking the agent what the guest sees.
struct HardwareService: Sendable {
    let host: HostContext
    let center: ProtectionCenter
    /// Inventory requests to the guest's agent, to confirm what it sees.
    let requests: AgentRequests

    func hardware(vm: String) async throws -> HardwareReport {
        let conn = try host.connection()
        let (uuid, name, l) = try await host.executor.run { () throws -> (String, String, (config: HardwareLayout, live: HardwareLayout?)) in
            let dom = try conn.domain(nameOrUUID: vm)
            return (dom.uuid, dom.name, try HardwarePerformer.layouts(dom))
        }
        var guest: AgentMessage.Inventory?, note: String?
        if l.live == nil {
            note = "the VM is off"
        } else {
            do { guest = try await inventory(uuid) } catch { note = "\(error)" }
        }
        return HardwareReport(vm: name, running: l.live != nil, config: l.config, live: l.live, guest: guest, guestNote: note)
    }

    func changeCPU(vm: String, _ r: CPUChangeRequest) async throws -> HardwareChangeResult {
        try await change(vm: vm, action: "cpu") { vm in
            let plan = try HardwarePlanner.cpu(r, config: vm.config, live: vm.live)
            try await vm.libvirt { try HardwarePerformer.cpu(plan, on: $0, oldConfigMax: vm.config.maxVcpus) }
            let from = vm.live?.vcpus ?? vm.config.vcpus
            let max = plan.maxConfig.map { ", maximum \(vm.config.maxVcpus) → \($0)" } ?? ""
            return (HardwareChangeResult(vm: vm.name, change: "vCPUs \(from) → \(r.vcpus)\(max)", effective: plan.effective),
                    { $0.cpusOnline == r.vcpus })
        }
    }

    func changeMemory(vm: String, _ r: MemoryChangeRequest) async throws -> HardwareChangeResult {
        try await change(vm: vm, action: "memory") { vm in
            let plan = try HardwarePlanner.memory(r, config: vm.config, live: vm.live)
            try await vm.libvirt { try HardwarePerformer.memory(plan, on: $0, oldConfigMaxMiB: vm.config.maxMemoryMiB) }
            let from = vm.live?.memoryMiB ?? vm.config.memoryMiB
            let max = plan.maxConfigMiB.map { ", maximum \(vm.config.maxMemoryMiB) → \($0) MiB" } ?? ""
            // The balloon moves MemTotal by the same amount (within a few pages).
            let delta = (r.mib - from) * 1024, before = vm.guestBefore
            return (HardwareChangeResult(vm: vm.name, change: "memory \(from) → \(r.mib) MiB\(max)", effective: plan.effective),
                    { inv in before.map { abs(Int(inv.memTotalKiB) - Int($0.memTotalKiB) - delta) <= 4096 } ?? true })
        }
    }

    func addDisk(vm: String, _ r: DiskAddRequest) async throws -> HardwareChangeResult {
        try await change(vm: vm, action: "disk-add") { vm in
            let plan = try HardwarePlanner.diskAdd(r, vm: vm.name, config: vm.config, live: vm.live)
            let bytes = Int64(r.sizeMiB) * 1024 * 1024
            let path: String, undo: @Sendable () -> Void
            if let pool = r.pool {
                let volume = try await host.executor.run { () throws -> StorageVolume in
                    let conn = vm.dom.connection
                    if let problem = PoolDisks.problem(pool: pool, volume: plan.fileName, conn) {
                        throw APIError.conflict("cannot add the disk: \(problem)", hint: "or give --dir DIR")
                    }
                    return try PoolDisks.create(pool: pool, volume: plan.fileName, bytes: bytes, conn)
                }
                path = try volume.path()
                undo = { try? volume.delete() }
            } else {
                path = plan.path ?? ""
                try await HardwarePerformer.createDisk(path, sizeMiB: r.sizeMiB)
                undo = { try? FileManager.default.removeItem(atPath: path) }
            }
            do {
                try await vm.libvirt { try $0.attachDevice(xml: HardwareXML.diskXML(path: path, target: plan.target, bus: plan.bus),
                                                           affect: plan.live ? [.live, .config] : .config) }
            } catch {
                undo()
                throw error
            }
            let count = vm.guestBefore?.disks.count ?? 0
            return (HardwareChangeResult(vm: vm.name, change: "disk \(plan.target) added (\(plan.bus), \(r.sizeMiB) MiB)",
                                         effective: plan.live ? .now : .nextBoot, device: plan.target, path: path),
                    { inv in inv.disks.count > count && inv.disks.contains { $0.sizeBytes == UInt64(bytes) } })
        }
    }

    func removeDisk(vm: String, target: String, nextBoot: Bool, deleteFile: Bool) async throws -> HardwareChangeResult {
        try await change(vm: vm, action: "disk-remove") { vm in
            let (plan, disk) = try HardwarePlanner.diskRemove(target, nextBoot: nextBoot, deleteFile: deleteFile, config: vm.config, live: vm.live)
            try await vm.libvirt { try HardwarePerformer.detach(HardwareXML.diskXML(disk), plan, on: $0) }
            let gone = plan.live ? try await vm.waitUntilGone { $0.disks.contains { $0.target == target } } : true
            var result = HardwareChangeResult(vm: vm.name, change: "disk \(target) removed", effective: plan.live ? .now : .nextBoot,
                                              device: target, path: disk.source)
            if !gone {
                result.notes.append("the guest has not released \(target) yet: it goes when the guest lets go (check 'vigil vm hardware')")
            }
            if let path = disk.source {
                if deleteFile && gone {
                    try FileManager.default.removeItem(atPath: path)
                    result.notes.append("deleted \(path)")
                } else {
                    result.notes.append("kept \(path)\(deleteFile ? "" : " (pass --delete-file to delete it)")")
                }
            }
            let count = vm.guestBefore?.disks.count ?? Int.max
            return (result, { $0.disks.count < count })
        }
    }

    func growDisk(vm: String, target: String, _ r: DiskGrowRequest) async throws -> HardwareChangeResult {
        try await change(vm: vm, action: "disk-grow") { vm in
            let current = try? await vm.libvirt { try $0.blockInfo(target).capacity }
            let plan = try HardwarePlanner.diskGrow(target, r, currentBytes: current, config: vm.config, live: vm.live)
            if plan.live {
                try await vm.libvirt { try $0.blockResize(target, bytes: plan.bytes) }
            } else if let path = plan.path {
                try await HardwarePerformer.resizeOffline(path, bytes: plan.bytes)
            }
            let from = current.map { "\($0 / 1024 / 1024) → " } ?? ""
            return (HardwareChangeResult(vm: vm.name, change: "disk \(target) grown \(from)\(r.sizeMiB) MiB",
                                         effective: plan.live ? .now : .nextBoot, device: target, path: plan.path),
                    { inv in inv.disks.contains { $0.sizeBytes == plan.bytes } })
        }
    }

    func addNIC(vm: String, _ r: NICAddRequest) async throws -> HardwareChangeResult {
        let mac = (r.mac ?? HardwarePerformer.newMAC()).lowercased()
        return try await change(vm: vm, action: "nic-add") { vm in
            let online = try HardwarePlanner.nicAdd(r, mac: mac, config: vm.config, live: vm.live)
            let model = r.model ?? "virtio"
            try await vm.libvirt { try $0.attachDevice(xml: HardwareXML.nicXML(kind: r.kind, source: r.source, mac: mac, model: model),
                                                       affect: online ? [.live, .config] : .config) }
            let source = r.source.map { " \($0)" } ?? ""
            return (HardwareChangeResult(vm: vm.name, change: "NIC \(mac) added (\(r.kind)\(source), \(model))",
                                         effective: online ? .now : .nextBoot, device: mac),
                    { $0.nics.contains { $0.mac.lowercased() == mac } })
        }
    }

    func removeNIC(vm: String, mac: String, nextBoot: Bool) async throws -> HardwareChangeResult {
        let key = mac.lowercased()
        return try await change(vm: vm, action: "nic-remove") { vm in
            let (plan, nic) = try HardwarePlanner.nicRemove(key, nextBoot: nextBoot, config: vm.config, live: vm.live)
            try await vm.libvirt { try HardwarePerformer.detach(HardwareXML.nicXML(nic), plan, on: $0) }
            let gone = plan.live ? try await vm.waitUntilGone { $0.nics.contains { $0.mac == key } } : true
            var result = HardwareChangeResult(vm: vm.name, change: "NIC \(key) removed", effective: plan.live ? .now : .nextBoot, device: key)
            if !gone { result.notes.append("the guest has not released the NIC yet: it goes when the guest lets go") }
            return (result, { !$0.nics.contains { $0.mac.lowercased() == key } })
        }
    }
}
