import Core
import Foundation
import Libvirt

/// Permanent deletion of VMs, with or without their disks. A wiping
/// destroy is a long operation: progress in `vigil op`, and journalled to
/// be *finished* after a vigild restart — zeroed data cannot be rolled
/// back, so a wipe cannot be cancelled either.
struct DestroyService: Sendable {
    let host: HostContext
    let tracking: GuestTracking
    let busy: VMBusyMarks

    func destroyVMWiping(vm: String, _ request: DestroyRequest) async throws -> OperationInfo {
        let conn = try host.connection()
        let (uuid, name) = try await host.resolve(vm)
        try busy.claim(uuid, name)
        do {
            let usage = try await DiskUsage.around(uuid, conn, host)
            let force = request.force ?? false
            let plan = try await host.executor.run {
                try RecycleBin.prepareDestruction(try conn.domain(uuid: uuid), deleteDisks: true, usage: usage, force: force)
            }
            let (deleting, kept) = (plan.deleting, plan.kept)
            let uri = host.uri
            return try await host.operations.start(kind: "wipe", target: name, cancellable: false) { ctx in
                defer { busy.release(uuid) }
                // Journalled first: once the VM is undefined, a restart finishes the wipe.
                try ctx.willDo(.completeWipe(vmUUID: uuid, uri: uri, paths: deleting))
                try await host.executor.run { try conn.domain(uuid: uuid).undefine(plan.undefineFlags) }
                await tracking.forget(uuid)
                let logger = host.logger
                try await host.executor.run {
                    try RecycleBin.delete(deleting, wipe: true, log: { logger.info("\($0)") },
                                          progress: { ctx.progress($0 * 0.99, "zero-filling \(deleting.count) disk(s)") })
                }
                host.events.record(vmUUID: uuid, vmName: name, kind: "admin",
                              message: "destroyed permanently; \(deleting.count) disk(s) deleted after zero-filling"
                                + (kept.isEmpty ? "" : ", kept \(kept.joined(separator: ", "))"),
                              action: "destroy", outcome: "succeeded")
                return "\(name) destroyed; zero-filled and deleted: \(deleting.joined(separator: ", "))"
            }
        } catch {
            busy.release(uuid)
            throw error
        }
    }

    /// Undefines the VM for good; with `deleteDisks` (or `wipe`) deletes its
    /// own disk files too, zero-filled first with `wipe`.
    func destroyVM(vm: String, _ request: DestroyRequest) async throws -> DeletionResult {
        let conn = try host.connection()
        let (uuid, name) = try await host.resolve(vm)
        let wipe = request.wipe ?? false, deleteDisks = wipe || (request.deleteDisks ?? false)
        let result = try await busy.exclusively(uuid, name) {
            let usage = deleteDisks ? try await DiskUsage.around(uuid, conn, host) : DiskUsage()
            let (deleting, kept) = try await host.executor.run { () throws -> ([String], [String]) in
                let dom = try conn.domain(uuid: uuid)
                let plan = try RecycleBin.prepareDestruction(dom, deleteDisks: deleteDisks, usage: usage, force: request.force ?? false)
                try dom.undefine(plan.undefineFlags)
                return (plan.deleting, plan.kept)
            }
            await tracking.forget(uuid)
            let logger = host.logger
            try await host.executor.run {
                try RecycleBin.delete(deleting, wipe: wipe) { logger.info("\($0)") }
            }
            return DeletionResult(vm: name, deletedDisks: deleting, wiped: wipe && !deleting.isEmpty, keptDisks: kept)
        }
        host.events.record(vmUUID: uuid, vmName: name, kind: "admin",
                      message: "destroyed permanently; \(result.deletedDisks.count) disk(s) deleted" + (result.wiped ? " after zero-filling" : "")
                        + (result.keptDisks.isEmpty ? "" : ", kept \(result.keptDisks.joined(separator: ", "))"),
                      action: "destroy", outcome: "succeeded")
        return result
    }
}
