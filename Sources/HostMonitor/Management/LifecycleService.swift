import Core
import Foundation
import Libvirt

/// A VM's life on this host: power actions, autostart, boot order, and
/// creation (a journalled operation: no half-made VM or orphaned disk).
struct LifecycleService: Sendable {
    let host: HostContext
    let vms: VMService
    /// A host in maintenance starts no VM.
    let maintenance: HostMaintenance
    /// Cluster admission control (nil: not clustered).
    let cluster: ClusterService?

    /// Carries out a power action and returns the VM as it is afterwards.
    func power(vm: String, _ request: PowerRequest) async throws -> VMSummary {
        if [.start, .wake].contains(request.action) { try maintenance.refusePlacement("start VMs") }
        let conn = try host.connection()
        if request.action == .start, let cluster {
            let facts = try await host.executor.run { () throws -> (uuid: String, name: String, info: DomainInfo, active: Bool) in
                let dom = try conn.domain(nameOrUUID: vm)
                return (dom.uuid, dom.name, try dom.info(), try dom.isActive)
            }
            if !facts.active {
                try await cluster.admit(vmUUID: facts.uuid, name: facts.name,
                                        Admission.Demand(memoryMiB: Int(facts.info.maxMemoryKiB / 1024), vcpus: facts.info.vcpus))
            }
        }
        let (uuid, name) = try await host.executor.run { () throws -> (String, String) in
            let dom = try conn.domain(nameOrUUID: vm)
            try PowerControl.perform(request.action, force: request.force ?? false, on: dom)
            return (dom.uuid, dom.name)
        }
        host.events.record(vmUUID: uuid, vmName: name, kind: "admin", message: "\(request.action.rawValue) requested",
                      action: request.action.rawValue, outcome: "succeeded")
        return try await vms.summary(uuid: uuid, name: name)
    }

    func setAutostart(vm: String, enabled: Bool) async throws -> VMSummary {
        let conn = try host.connection()
        let uuid = try await host.executor.run { () throws -> String in
            let dom = try conn.domain(nameOrUUID: vm)
            try dom.setAutostart(enabled)
            return dom.uuid
        }
        return try await vms.summary(uuid: uuid, name: vm)
    }

    func bootOrder(vm: String) async throws -> BootOrder {
        let conn = try host.connection()
        return try await host.executor.run {
            let dom = try conn.domain(nameOrUUID: vm)
            return BootOrder(vm: dom.name, devices: try DomainDefinition(xml: try dom.xml([.inactive])).bootDevices)
        }
    }

    func setBootOrder(vm: String, _ r: BootOrder) async throws -> BootOrder {
        let bad = r.devices.filter { !BootOrder.devices.contains($0) }
        guard !r.devices.isEmpty, bad.isEmpty, Set(r.devices).count == r.devices.count else {
            throw APIError.badRequest("boot devices must be distinct ones of \(BootOrder.devices.joined(separator: ", ")), got \(r.devices)",
                                      hint: "e.g. vigil vm boot-order VM cdrom,hd")
        }
        let conn = try host.connection()
        let result = try await host.executor.run { () throws -> BootOrder in
            let dom = try conn.domain(nameOrUUID: vm)
            var def = try DomainDefinition(xml: try dom.xml([.inactive, .secure]))
            if def.hasDirectKernelBoot {
                throw APIError.conflict("\(dom.name) boots a kernel directly (<os><kernel>), so it has no boot device order",
                                        hint: "remove the direct kernel boot from its definition first")
            }
            def.setBootDevices(r.devices)
            _ = try conn.define(xml: def.xml)
            return BootOrder(vm: dom.name, devices: r.devices, effective: try dom.isActive ? "next boot" : "now")
        }
        host.events.record(vmName: result.vm, kind: "settings", message: "boot order set to \(r.devices.joined(separator: ", ")) (\(result.effective ?? ""))")
        return result
    }

    /// Creates disks and defines the VM as a journalled operation: anything
    /// failing, or vigild dying halfway, leaves no half-made VM and no
    /// orphaned disk (undone at once, or at the next start).
    func createVM(_ request: VMCreateRequest) async throws -> VMSummary {
        let problems = VMBuilder.problems(request)
        guard problems.isEmpty else {
            throw APIError.badRequest("cannot create VM: " + problems.joined(separator: "; "), hint: "see 'vigil vm create --help'")
        }
        if request.start == true { try maintenance.refusePlacement("start VMs (create it without --start)") }
        let conn = try host.connection()
        try await host.executor.run {
            if (try? conn.domain(named: request.name)) != nil {
                throw APIError.conflict("a VM named \(request.name) exists", hint: "choose another name")
            }
            let taken = request.disks.indices.filter { request.disks[$0].pool == nil }.map { VMBuilder.diskPath(request, $0) }
                .filter { FileManager.default.fileExists(atPath: $0) }
            let pools = PoolDisks.problems(request, conn)
            if !taken.isEmpty || !pools.isEmpty {
                throw APIError.conflict("cannot create VM: " + (taken.map { "\($0) already exists" } + pools).joined(separator: "; "),
                                        hint: "Vigil never overwrites a disk: choose another name or place")
            }
        }
        let uuid = UUID().uuidString.lowercased(), uri = host.uri
        let op = try await host.operations.start(kind: "create", target: request.name, cancellable: false) { ctx in
            var paths: [String] = []
            for (i, d) in request.disks.enumerated() {
                if let pool = d.pool {
                    try ctx.willDo(.deleteVolume(pool: pool, volume: VMBuilder.diskName(request, i), uri: uri))
                    let volume = try await host.executor.run { try PoolDisks.create(request, i, conn) }
                    paths.append(try volume.path())
                } else if let base = d.base {
                    // An overlay on a golden image: its data shows through, it is never written.
                    let path = VMBuilder.diskPath(request, i)
                    let info = try await DiskImage.info(base)
                    try ctx.willCreate(file: path)
                    try await DiskImage.createOverlay(path, backing: base, backingFormat: info.format,
                                                      virtualSize: max(VMBuilder.diskBytes(d.sizeGiB), info.virtualSize))
                    paths.append(path)
                } else {
                    let path = VMBuilder.diskPath(request, i)
                    try ctx.willCreate(file: path)
                    try await DiskImage.createNew(path, sizeBytes: VMBuilder.diskBytes(d.sizeGiB))
                    paths.append(path)
                }
            }
            let xml = VMBuilder.xml(request, diskPaths: paths, uuid: uuid)
            try ctx.willDo(.undefineDomain(uuid: uuid, uri: uri))
            try await host.executor.run {
                let dom = try conn.define(xml: xml)
                if request.start == true { try dom.create() }
            }
            return request.name
        }
        let end = try await host.operations.wait(id: op.id, seconds: 120)
        guard let end, end.state == .succeeded else {
            throw APIError(.internalServerError, "cannot create VM \(request.name): \(end?.error ?? "still running (operation \(op.id))")",
                           hint: "see 'vigil op show \(op.id)'; nothing was left behind")
        }
        host.events.record(vmUUID: uuid, vmName: request.name, kind: "admin",
                      message: "created: \(request.vcpus) vCPU, \(request.memoryMiB) MiB, \(request.disks.count) disk(s), \(request.nics.count) NIC(s)",
                      action: "create", outcome: "succeeded")
        return try await vms.summary(uuid: uuid, name: request.name)
    }
}
