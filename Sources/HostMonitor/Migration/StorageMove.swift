import Core
import Foundation
import Libvirt

/// Moves a VM's disks to another directory on this host. Running: a block
/// copy per disk (QEMU mirrors every new write until the copy is in step),
/// then a pivot onto the copy while the guest keeps running, and the
/// persistent definition updated for that disk at once. Shut off: a
/// `qemu-img convert` per disk, then one redefinition. The old images go
/// only after every disk runs on its copy, and never one another VM uses.
struct StorageMove: Sendable {
    let executor: BlockingExecutor
    let events: EventLog

    struct Disk: Sendable {
        var target: String
        var from: String
        var to: String
        var virtualBytes: Int64
    }

    struct Plan: Sendable {
        var domain: Domain
        var uri: String
        var running: Bool
        var disks: [Disk]
        /// Old images to remove at the end (those no other VM uses; none with keepOld).
        var removeAfter: [String]
        var pool: StoragePool?
    }

    func perform(_ plan: Plan, _ ctx: OperationContext) async throws -> String {
        let dom = plan.domain
        if plan.running { try await moveLive(plan, ctx) } else { try await moveOffline(plan, ctx) }
        for old in plan.removeAfter {
            try ctx.willDo(.removeFileUnlessUsed(path: old, domainUUID: dom.uuid, uri: plan.uri))
            try? FileManager.default.removeItem(atPath: old)
        }
        if let pool = plan.pool { try? await executor.run { try pool.refresh() } }
        let moved = plan.disks.map { "\($0.target) → \($0.to)" }.joined(separator: ", ")
        events.record(vmUUID: dom.uuid, vmName: dom.name, kind: "migration",
                      message: "storage moved \(plan.running ? "live" : "offline"): \(moved)"
                        + (plan.removeAfter.isEmpty ? "" : "; old images removed"), action: "move-storage", outcome: "succeeded")
        return moved
    }

    private func moveLive(_ plan: Plan, _ ctx: OperationContext) async throws {
        let dom = plan.domain
        let total = Double(max(plan.disks.reduce(0) { $0 + $1.virtualBytes }, 1))
        var done = 0.0
        for d in plan.disks {
            try ctx.checkCancelled()
            // Until the pivot the copy is not the VM's: a rollback (or a restart) aborts the job and removes it.
            try ctx.willDo(.abortBlockCopy(domainUUID: dom.uuid, uri: plan.uri, disk: d.target, path: d.to))
            let xml = "<disk type='file'><driver type='qcow2'/><source file='\(XMLEscape.text(d.to))'/></disk>"
            try await executor.run { try dom.blockCopy(disk: d.target, destinationXML: xml) }
            let base = done, size = Double(d.virtualBytes)
            var pivoted = false
            let deadline = ContinuousClock.now + .seconds(3600)
            while !pivoted {
                try await Task.sleep(for: .milliseconds(100))
                if ctx.isCancelled || Task.isCancelled {
                    try? await executor.run { try dom.abortBlockJob(disk: d.target) }
                    throw OperationCancelled()
                }
                guard let job = try await executor.run({ try dom.blockJob(disk: d.target) }) else {
                    throw APIError(.internalServerError, "the copy of disk \(d.target) of \(dom.name) stopped before it was in step",
                                   hint: "see libvirtd's log and the destination's free space; the VM stays on its old image")
                }
                ctx.progress(min(0.95, (base + job.fraction * size) / total), "copying \(d.target) (\(Int(job.fraction * 100))%)")
                guard job.end > 0, job.current == job.end else { continue }
                do {
                    try await executor.run { try dom.pivot(disk: d.target) }
                    pivoted = true
                } catch let e as LibvirtError where e.message.contains("not ready") || e.code == .operationInvalid {
                    // In step but libvirt has not seen QEMU's ready event yet.
                    if ContinuousClock.now > deadline { throw e }
                }
            }
            // The VM runs on the copy: its persistent definition follows now, disk by disk.
            try await executor.run {
                var def = try DomainDefinition(xml: try dom.xml([.inactive, .secure]))
                def.setDiskImages([d.target: d.to])
                _ = try dom.connection.define(xml: def.xml)
            }
            done += size
        }
    }

    private func moveOffline(_ plan: Plan, _ ctx: OperationContext) async throws {
        let dom = plan.domain
        let before = try await executor.run { try dom.xml([.inactive, .secure]) }
        let total = Double(max(plan.disks.reduce(0) { $0 + $1.virtualBytes }, 1))
        var done = 0.0
        for d in plan.disks {
            try ctx.checkCancelled()
            try ctx.willCreate(file: d.to)
            let base = done, size = Double(d.virtualBytes)
            try await DiskImage.convert(from: d.from, to: d.to,
                                        started: { pid in try ctx.willDo(.killProcess(pid: pid, marker: d.to)) },
                                        progress: { p in ctx.progress(min(0.95, (base + p * size) / total), "copying \(d.target) (\(Int(p * 100))%)") })
            done += size
        }
        var def = try DomainDefinition(xml: before)
        def.setDiskImages(Dictionary(uniqueKeysWithValues: plan.disks.map { ($0.target, $0.to) }))
        let xml = def.xml
        try ctx.willDo(.redefineDomain(xml: before, uri: plan.uri))
        try await executor.run { _ = try dom.connection.define(xml: xml) }
        // Committed: the copies are the VM's now.
        for step in ctx.undoSteps { ctx.done(step) }
    }
}
