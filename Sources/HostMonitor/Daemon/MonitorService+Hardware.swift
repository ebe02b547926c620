import Core
import Foundation
import Libvirt

/// Hardware changes (`/v1/vms/{vm}/hardware…`): planned by `HardwarePlanner`,
/// made by `HardwarePerformer`, logged, and for online changes confirmed by
/// asking the agent what the guest sees.
extension MonitorService {
    public func hardware(vm: String) async throws -> HardwareReport {
        let conn = try connection()
        let (uuid, name, l) = try await executor.run { () throws -> (String, String, (config: HardwareLayout, live: HardwareLayout?)) in
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

    public func changeCPU(vm: String, _ r: CPUChangeRequest) async throws -> HardwareChangeResult {
        try await change(vm: vm, action: "cpu") { vm in
            let plan = try HardwarePlanner.cpu(r, config: vm.config, live: vm.live)
            try await vm.libvirt { try HardwarePerformer.cpu(plan, on: $0, oldConfigMax: vm.config.maxVcpus) }
            let from = vm.live?.vcpus ?? vm.config.vcpus
            let max = plan.maxConfig.map { ", maximum \(vm.config.maxVcpus) → \($0)" } ?? ""
            return (HardwareChangeResult(vm: vm.name, change: "vCPUs \(from) → \(r.vcpus)\(max)", effective: plan.effective),
                    { $0.cpusOnline == r.vcpus })
        }
    }

    public func changeMemory(vm: String, _ r: MemoryChangeRequest) async throws -> HardwareChangeResult {
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

    public func addDisk(vm: String, _ r: DiskAddRequest) async throws -> HardwareChangeResult {
        try await change(vm: vm, action: "disk-add") { vm in
            let plan = try HardwarePlanner.diskAdd(r, vm: vm.name, config: vm.config, live: vm.live)
            let bytes = Int64(r.sizeMiB) * 1024 * 1024
            let path: String, undo: @Sendable () -> Void
            if let pool = r.pool {
                let volume = try await executor.run { () throws -> StorageVolume in
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

    public func removeDisk(vm: String, target: String, nextBoot: Bool, deleteFile: Bool) async throws -> HardwareChangeResult {
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

    public func growDisk(vm: String, target: String, _ r: DiskGrowRequest) async throws -> HardwareChangeResult {
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

    public func addNIC(vm: String, _ r: NICAddRequest) async throws -> HardwareChangeResult {
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

    public func removeNIC(vm: String, mac: String, nextBoot: Bool) async throws -> HardwareChangeResult {
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

// MARK: - the steps every change shares

extension MonitorService {
    /// One VM as a change sees it: its layouts, what its guest saw before,
    /// and a way to run blocking libvirt calls on the executor.
    struct HardwareTarget: Sendable {
        let dom: Domain
        let config: HardwareLayout
        let live: HardwareLayout?
        let guestBefore: AgentMessage.Inventory?
        let executor: BlockingExecutor
        var name: String { dom.name }

        func libvirt<T: Sendable>(_ body: @escaping @Sendable (Domain) throws -> T) async throws -> T {
            let dom = self.dom
            return try await executor.run { try body(dom) }
        }

        /// A live unplug needs the guest's consent: QEMU asks, and libvirt
        /// returns after a few seconds even without it. False when the device
        /// is still in the running VM after `wait`.
        func waitUntilGone(wait: Duration = .seconds(10), _ present: @escaping @Sendable (HardwareLayout) -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + wait
            while try await libvirt({ present(HardwareXML.layout(try $0.xml())) }) {
                if ContinuousClock.now >= deadline { return false }
                try await Task.sleep(for: .milliseconds(200))
            }
            return true
        }
    }

    struct NoInventory: Error, CustomStringConvertible {
        let version: String
        var description: String { "vigil-agent \(version) cannot report what the guest sees: upgrade it ('vigil agent upgrade VM')" }
    }

    typealias GuestCheck = @Sendable (AgentMessage.Inventory) -> Bool

    /// Runs one change, logs it, and for an online change waits (briefly)
    /// until the guest shows it.
    private func change(vm: String, action: String,
                        _ body: (HardwareTarget) async throws -> (HardwareChangeResult, GuestCheck)) async throws -> HardwareChangeResult {
        let conn = try connection()
        let (dom, config, live) = try await executor.run { () throws -> (Domain, HardwareLayout, HardwareLayout?) in
            let dom = try conn.domain(nameOrUUID: vm)
            let active = try dom.isActive
            return (dom, HardwareXML.layout(try dom.xml([.inactive])), active ? HardwareXML.layout(try dom.xml()) : nil)
        }
        let uuid = dom.uuid
        let before = live == nil ? nil : try? await inventory(uuid)
        var (result, check): (HardwareChangeResult, GuestCheck)
        do {
            (result, check) = try await body(HardwareTarget(dom: dom, config: config, live: live, guestBefore: before, executor: executor))
        } catch {
            // Refusals too: the log shows who asked for what a VM could not take.
            let refused = (error as? APIError).map { $0.status.code < 500 } ?? false
            events.record(vmUUID: uuid, vmName: dom.name, kind: "hardware", message: "\(action) \(refused ? "refused" : "failed"): \(error)",
                          action: action, outcome: refused ? "refused" : "failed")
            throw error
        }
        let when = result.effective == .now ? "now" : "effective at next boot"
        events.record(vmUUID: uuid, vmName: result.vm, kind: "hardware", message: "\(result.change) (\(when))",
                      action: action, outcome: "succeeded")
        logger.info("hardware change: \(result.change) (\(when))", metadata: ["vm.name": "\(result.vm)"])
        if result.effective == .nextBoot {
            result.notes.insert("stored in the VM's definition: effective at next boot", at: 0)
        } else if let t = await center.tracked(uuid), t.machine.agent == .alive {
            if t.hello?.capabilities.contains("inventory") == true {
                let (guest, seen) = await confirm(uuid, check)
                result.guest = guest
                if !seen { result.notes.append("the guest does not show the change yet (hot-plug may take a moment)") }
            } else {
                result.notes.append(NoInventory(version: t.hello?.agentVersion ?? "?").description)
            }
        } else {
            result.notes.append("no vigil-agent connected: cannot confirm what the guest sees")
        }
        return result
    }

    /// What the guest sees, from its agent (bounded: the guest is untrusted).
    func inventory(_ uuid: String) async throws -> AgentMessage.Inventory {
        guard let t = await center.tracked(uuid), t.machine.agent == .alive else { throw AgentRequests.NotConnected() }
        guard t.hello?.capabilities.contains("inventory") == true else { throw NoInventory(version: t.hello?.agentVersion ?? "?") }
        let reply = try await requests.request(vm: uuid, what: "an inventory request", send: { await self.center.send(uuid, $0) }) {
            .inventoryRequest(.init(id: $0))
        }
        guard case .inventory(let inventory) = reply.message else { throw AgentRequests.NotConnected() }
        return inventory.bounded()
    }

    /// Asks the agent until `check` holds and the view is steady (hot-plugged
    /// hardware reaches the guest a little after libvirt returns; each request
    /// also brings new CPUs and memory online) or `timeout` passes.
    private func confirm(_ uuid: String, _ check: GuestCheck, timeout: Duration = .seconds(15))
        async -> (AgentMessage.Inventory?, Bool) {
        let deadline = ContinuousClock.now + timeout
        var last: AgentMessage.Inventory?
        while true {
            if let inventory = try? await inventory(uuid) {
                // Twice the same view: a balloon moves memory a little at a time.
                if check(inventory), let last, last.sameView(as: inventory) { return (inventory, true) }
                last = inventory
            }
            if ContinuousClock.now >= deadline { return (last, false) }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}
