import Core
import Foundation
import Libvirt

/// Wipes (destroy --wipe, purge --wipe) as long operations: progress in
/// `vigil op`, and journalled to be *finished* after a vigild restart —
/// zeroed data cannot be rolled back, so a wipe cannot be cancelled either.
extension MonitorService {
    public func destroyVMWiping(vm: String, _ request: DestroyRequest) async throws -> OperationInfo {
        let conn = try connection()
        let (uuid, name) = try await resolve(conn, vm)
        try claimBusy(uuid, name)
        do {
            let usage = try await diskUsage(conn, excluding: uuid)
            let force = request.force ?? false
            let plan = try await executor.run {
                try RecycleBin.prepareDestruction(try conn.domain(uuid: uuid), deleteDisks: true, usage: usage, force: force)
            }
            let (deleting, kept) = (plan.deleting, plan.kept)
            let uri = config.libvirtURI
            return try await operations.start(kind: "wipe", target: name, cancellable: false) { [self] ctx in
                defer { releaseBusy(uuid) }
                // Journalled first: once the VM is undefined, a restart finishes the wipe.
                try ctx.willDo(.completeWipe(vmUUID: uuid, uri: uri, paths: deleting))
                try await executor.run { try conn.domain(uuid: uuid).undefine(plan.undefineFlags) }
                await watchers.stop(uuid)
                await center.forget(uuid)
                let logger = self.logger
                try await executor.run {
                    try RecycleBin.delete(deleting, wipe: true, log: { logger.info("\($0)") },
                                          progress: { ctx.progress($0 * 0.99, "zero-filling \(deleting.count) disk(s)") })
                }
                events.record(vmUUID: uuid, vmName: name, kind: "admin",
                              message: "destroyed permanently; \(deleting.count) disk(s) deleted after zero-filling"
                                + (kept.isEmpty ? "" : ", kept \(kept.joined(separator: ", "))"),
                              action: "destroy", outcome: "succeeded")
                return "\(name) destroyed; zero-filled and deleted: \(deleting.joined(separator: ", "))"
            }
        } catch {
            releaseBusy(uuid)
            throw error
        }
    }

    public func purgeWiping(_ key: String) async throws -> OperationInfo {
        var r = try binRecord(key, purging: true)
        try claimBusy(r.vmUUID, r.vmName)
        do {
            r.phase = .purging
            r.wipe = true
            try store.saveRecycled(r)
            let record = r
            return try await operations.start(kind: "wipe", target: "bin entry \(r.id ?? 0) (\(r.vmName))", cancellable: false) { [self] ctx in
                defer { releaseBusy(record.vmUUID) }
                // The bin's own record (phase purging) is what a restart finishes.
                try ctx.willDo(.finishedAtStart(what: "the recycle bin finishes purging entry \(record.id ?? 0) at start"))
                let result = try await finishPurge(record, reason: "purged from the recycle bin") { p in
                    ctx.progress(p * 0.99, "zero-filling \(record.disks.count) disk(s)")
                }
                return "\(result.vm) purged; zero-filled and deleted: \(result.deletedDisks.joined(separator: ", "))"
            }
        } catch {
            // Not started (the mark would otherwise stay until vigild restarts).
            releaseBusy(r.vmUUID)
            throw error
        }
    }
}
