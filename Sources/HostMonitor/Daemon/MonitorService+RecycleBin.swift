import Core
import Foundation
import Libvirt

/// Deleting VMs to the recycle bin, restoring and purging them, and
/// permanent deletion. Each step is recorded in the database before it is
/// taken (`RecycleRecord.Phase`), so a vigild killed half-way leaves no VM
/// half-deleted: `finishRecycleBinSteps` completes or undoes it at start.
extension MonitorService {
    /// Runs `body` with `uuid` marked busy; refuses a second operation on the same VM.
    func exclusively<T>(_ uuid: String, _ name: String, _ body: () async throws -> T) async throws -> T {
        try claimBusy(uuid, name)
        defer { releaseBusy(uuid) }
        return try await body()
    }

    /// Marks a VM as taken by a delete, restore, purge or destroy (a wipe
    /// keeps the mark for its whole background operation).
    func claimBusy(_ uuid: String, _ name: String) throws {
        guard binBusy.withLock({ $0.insert(uuid).inserted }) else {
            throw APIError.conflict("another delete, restore, purge or destroy of \(name) is under way", hint: "wait for it to finish")
        }
    }

    func releaseBusy(_ uuid: String) { binBusy.withLock { _ = $0.remove(uuid) } }

    func resolve(_ conn: Connection, _ vm: String) async throws -> (uuid: String, name: String) {
        try await executor.run { () throws -> (String, String) in
            let dom = try conn.domain(nameOrUUID: vm)
            return (dom.uuid, dom.name)
        }
    }

    /// Who else uses which disk file (other VMs, VMs in the bin), backing chains included.
    func diskUsage(_ conn: Connection, excluding uuid: String) async throws -> DiskUsage {
        let bin = try store.recycled()
        return await DiskUsage.of(try await executor.run { try DiskUsage.disks(conn: conn, excludingUUID: uuid, bin: bin) })
    }

    // MARK: delete to the bin

    /// Undefines the VM, keeping its definition (and with `withDisks` its
    /// disk files) in the bin. Order: record, undefine, move disks, mark binned.
    public func recycle(vm: String, _ request: RecycleRequest) async throws -> RecycleEntry {
        let conn = try connection()
        let (uuid, name) = try await resolve(conn, vm)
        let store = self.store
        let withDisks = request.withDisks ?? false
        let record = try await exclusively(uuid, name) {
            let usage = withDisks ? try await diskUsage(conn, excluding: uuid) : DiskUsage()
            return try await executor.run { () throws -> RecycleRecord in
                let dom = try conn.domain(uuid: uuid)
                try RecycleBin.requirePersistent(dom)
                let snapshots = try dom.snapshotCount
                guard snapshots == 0 else {
                    throw APIError.conflict("cannot delete \(name) to the recycle bin: it has \(snapshots) snapshot(s), which the bin cannot keep",
                                            hint: "delete the snapshots first, or delete the VM permanently with 'vigil vm destroy \(name)'")
                }
                let xml = try dom.xml([.inactive, .secure])
                let disks = DomainDefinition.diskFiles(in: xml)
                let moving = withDisks ? disks.filter { $0.isOwned && FileManager.default.fileExists(atPath: $0.path) }.map(\.path) : []
                try RecycleBin.requireUnshared(moving, usage: usage, doing: "move the disks of \(name) into the recycle bin")
                // Checked first, so a refused request powers nothing off.
                try RecycleBin.requireOff(dom, force: request.force ?? false, doing: "delete")
                var r = try store.addRecycled(RecycleRecord(
                    vmUUID: uuid, vmName: name, xml: xml, autostart: (try? dom.autostart) ?? false,
                    deletedAt: Date().timeIntervalSince1970, phase: .deleting, disks: [],
                    disksLeft: disks.map(\.path).filter { !moving.contains($0) }))
                do {
                    r.disks = try RecycleBin.plan(moving, token: "\(r.id ?? 0)-\(uuid.prefix(8))")
                    try store.saveRecycled(r)
                    // A UEFI VM's variables stay on disk for the restore.
                    try dom.undefine(xml.contains("<nvram") ? [.keepNVRAM] : [])
                } catch {
                    RecycleBin.removeEmptyDirectories(r.disks)
                    try? store.removeRecycled(id: r.id ?? 0)
                    throw error
                }
                do {
                    try RecycleBin.move(RecycleBin.intoBin(r.disks))
                } catch {
                    // Put the VM back as it was.
                    _ = try? conn.define(xml: xml)
                    try? conn.domain(uuid: uuid).setAutostart(r.autostart)
                    RecycleBin.removeEmptyDirectories(r.disks)
                    try? store.removeRecycled(id: r.id ?? 0)
                    throw error
                }
                r.phase = .binned
                try store.saveRecycled(r)
                return r
            }
        }
        await watchers.stop(uuid)
        await center.forget(uuid)
        let disksNote = record.disks.isEmpty ? "disks left in place" : "\(record.disks.count) disk(s) moved to the bin"
        events.record(vmUUID: uuid, vmName: name, kind: "admin", message: "deleted to the recycle bin (entry \(record.id ?? 0)); \(disksNote)",
                      action: "delete", outcome: "succeeded")
        return record.entry(retention: config.recycleRetentionSeconds)
    }

    // MARK: the bin

    public func recycleBin() throws -> RecycleBinList {
        let retention = config.recycleRetentionSeconds
        let entries = try store.recycled().filter { $0.phase == .binned || $0.phase == .purging }.map { $0.entry(retention: retention) }
        return RecycleBinList(entries: entries, retentionSeconds: retention)
    }

    /// An entry by id, or by VM name or UUID when only one entry has it.
    /// `purging` too: a purge cut short by an error can be asked for again.
    func binRecord(_ key: String, purging: Bool = false) throws -> RecycleRecord {
        let all = try store.recycled().filter { $0.phase == .binned || (purging && $0.phase == .purging) }
        if let id = Int64(key), let r = all.first(where: { $0.id == id }) { return r }
        let named = all.filter { $0.vmName == key || $0.vmUUID == key }
        switch named.count {
        case 1: return named[0]
        case 0: throw APIError.notFound("nothing in the recycle bin with id, name or UUID '\(key)'", hint: "see 'vigil bin list'")
        default:
            throw APIError.conflict("\(named.count) entries in the recycle bin are named \(key) (ids \(named.compactMap(\.id).map(String.init).joined(separator: ", ")))",
                                    hint: "give the entry's id")
        }
    }

    /// Defines the VM again (under `request.name` if given) with its disks
    /// back where they were. Order: mark restoring, move disks, define, drop the entry.
    public func restore(_ key: String, _ request: RestoreRequest) async throws -> VMSummary {
        let conn = try connection()
        let found = try binRecord(key)
        let store = self.store
        let name = request.name ?? found.vmName
        if request.name != nil, let problem = VMBuilder.nameProblems(name).first { throw APIError.badRequest("cannot restore as '\(name)': \(problem)", hint: "pick another --name") }
        let uuid = try await exclusively(found.vmUUID, found.vmName) {
            try await executor.run { () throws -> String in
                guard var r = try store.recycled(id: found.id ?? 0), r.phase == .binned else {
                    throw APIError.notFound("entry \(found.id ?? 0) left the recycle bin", hint: "see 'vigil bin list'")
                }
                if (try? conn.domain(named: name)) != nil {
                    throw APIError.conflict("a VM named \(name) exists by now",
                                            hint: "restore it under another name: 'vigil bin restore \(r.id ?? 0) --name NEWNAME'")
                }
                var xml = RecycleBin.renamed(r.xml, to: name)
                let binnedUUID = r.vmUUID
                if (try? conn.domain(uuid: r.vmUUID)) != nil {
                    // The UUID was reused meanwhile: the restored VM gets a new one,
                    // recorded first so a restart can tell whether the define happened.
                    r.vmUUID = UUID().uuidString.lowercased()
                    xml = RecycleBin.withUUID(xml, r.vmUUID)
                }
                let taken = r.disks.map(\.original).filter { FileManager.default.fileExists(atPath: $0) }
                guard taken.isEmpty else {
                    throw APIError.conflict("cannot put the disks back: \(taken.joined(separator: ", ")) exist(s) by now",
                                            hint: "move those files away, then restore again")
                }
                r.phase = .restoring
                try store.saveRecycled(r)
                func backToTheBin() {
                    r.phase = .binned
                    r.vmUUID = binnedUUID
                    try? store.saveRecycled(r)
                }
                do {
                    try RecycleBin.move(RecycleBin.outOfBin(r.disks))
                } catch {
                    backToTheBin()
                    throw error
                }
                let dom: Domain
                do {
                    dom = try conn.define(xml: xml)
                } catch {
                    try? RecycleBin.move(RecycleBin.intoBin(r.disks))
                    backToTheBin()
                    throw error
                }
                if r.autostart { try? dom.setAutostart(true) }
                try store.removeRecycled(id: r.id ?? 0)
                RecycleBin.removeEmptyDirectories(r.disks)
                return dom.uuid
            }
        }
        events.record(vmUUID: uuid, vmName: name, kind: "admin",
                      message: "restored from the recycle bin (entry \(found.id ?? 0))" + (name != found.vmName ? " as \(name) (was \(found.vmName))" : ""),
                      action: "restore", outcome: "succeeded")
        try? await reconcile(conn, adopting: false)
        return try await summary(uuid: uuid, name: name)
    }

    /// Deletes an entry and its binned disks for good.
    public func purge(_ key: String, _ request: PurgeRequest) async throws -> DeletionResult {
        var r = try binRecord(key, purging: true)
        return try await exclusively(r.vmUUID, r.vmName) {
            r.phase = .purging
            r.wipe = request.wipe ?? false
            try store.saveRecycled(r)
            return try await finishPurge(r, reason: "purged from the recycle bin")
        }
    }

    func finishPurge(_ r: RecycleRecord, reason: String,
                     progress: @escaping @Sendable (Double) -> Void = { _ in }) async throws -> DeletionResult {
        let store = self.store, logger = self.logger
        try await executor.run {
            try RecycleBin.delete(r.disks.map(\.stored), wipe: r.wipe, log: { logger.info("\($0)") }, progress: progress)
            RecycleBin.removeEmptyDirectories(r.disks)
            try store.removeRecycled(id: r.id ?? 0)
        }
        events.record(vmUUID: r.vmUUID, vmName: r.vmName, kind: "admin",
                      message: "\(reason) (entry \(r.id ?? 0)); \(r.disks.count) disk(s) deleted" + (r.wipe ? " after zero-filling" : ""),
                      action: "purge", outcome: "succeeded")
        return DeletionResult(vm: r.vmName, deletedDisks: r.disks.map(\.original), wiped: r.wipe, keptDisks: r.disksLeft)
    }

    // MARK: permanent deletion

    /// Undefines the VM for good; with `deleteDisks` (or `wipe`) deletes its
    /// own disk files too, zero-filled first with `wipe`.
    public func destroyVM(vm: String, _ request: DestroyRequest) async throws -> DeletionResult {
        let conn = try connection()
        let (uuid, name) = try await resolve(conn, vm)
        let wipe = request.wipe ?? false, deleteDisks = wipe || (request.deleteDisks ?? false)
        let result = try await exclusively(uuid, name) {
            let usage = deleteDisks ? try await diskUsage(conn, excluding: uuid) : DiskUsage()
            let (deleting, kept) = try await executor.run { () throws -> ([String], [String]) in
                let dom = try conn.domain(uuid: uuid)
                let plan = try RecycleBin.prepareDestruction(dom, deleteDisks: deleteDisks, usage: usage, force: request.force ?? false)
                try dom.undefine(plan.undefineFlags)
                return (plan.deleting, plan.kept)
            }
            await watchers.stop(uuid)
            await center.forget(uuid)
            let logger = self.logger
            try await executor.run {
                try RecycleBin.delete(deleting, wipe: wipe) { logger.info("\($0)") }
            }
            return DeletionResult(vm: name, deletedDisks: deleting, wiped: wipe && !deleting.isEmpty, keptDisks: kept)
        }
        events.record(vmUUID: uuid, vmName: name, kind: "admin",
                      message: "destroyed permanently; \(result.deletedDisks.count) disk(s) deleted" + (result.wiped ? " after zero-filling" : "")
                        + (result.keptDisks.isEmpty ? "" : ", kept \(result.keptDisks.joined(separator: ", "))"),
                      action: "destroy", outcome: "succeeded")
        return result
    }

    // MARK: unattended

    /// Purges expired entries (and finishes purges cut short), at start and
    /// then periodically: every quarter of the retention, at most a minute apart.
    func recycleBinLoop() async {
        let interval = config.recycleRetentionSeconds.map { min(60, max(0.5, $0 / 4)) } ?? 300
        while !Task.isCancelled {
            await purgeExpired(now: Date())
            try? await Task.sleep(for: .seconds(interval))
        }
    }

    func purgeExpired(now: Date) async {
        let retention = config.recycleRetentionSeconds
        for var r in (try? store.recycled()) ?? [] {
            let expired = retention.map { r.phase == .binned && r.deletedAt + $0 <= now.timeIntervalSince1970 } ?? false
            guard r.phase == .purging || expired else { continue }
            do {
                try await exclusively(r.vmUUID, r.vmName) {
                    if expired {
                        r.phase = .purging
                        try store.saveRecycled(r)
                    }
                    let kept = retention.map { $0 >= 86_400 ? String(format: "%g days", $0 / 86_400) : String(format: "%g s", $0) } ?? ""
                    _ = try await finishPurge(r, reason: expired ? "purged: the recycle bin's retention (\(kept)) passed" : "purge finished")
                }
            } catch {
                logger.error("recycle bin: purging entry \(r.id ?? 0) (\(r.vmName)) failed: \(error)")
            }
        }
    }

    /// Completes or undoes deletes and restores a killed vigild left
    /// half-way, judged by whether libvirt still (or already) has the domain.
    func finishRecycleBinSteps(_ conn: Connection) async {
        for var r in (try? store.recycled()) ?? [] where r.phase == .deleting || r.phase == .restoring {
            guard binBusy.withLock({ !$0.contains(r.vmUUID) }) else { continue }
            let store = self.store, vmUUID = r.vmUUID
            let defined = (try? await executor.run { try conn.domain(uuid: vmUUID) }) != nil
            let note: String
            switch (r.phase, defined) {
            case (.deleting, true):
                // Undefine never happened: the VM stays. Disks move only after it.
                try? store.removeRecycled(id: r.id ?? 0)
                RecycleBin.removeEmptyDirectories(r.disks)
                note = "delete to the recycle bin did not complete; the VM stays"
            case (.restoring, true):
                try? store.removeRecycled(id: r.id ?? 0)
                RecycleBin.removeEmptyDirectories(r.disks)
                note = "restore from the recycle bin completed at start"
            case (.deleting, false), (.restoring, false):
                // Every disk to the bin: the ones still (or again) in place move.
                let left = r.disks.filter { FileManager.default.fileExists(atPath: $0.original) && !FileManager.default.fileExists(atPath: $0.stored) }
                try? RecycleBin.move(RecycleBin.intoBin(left))
                note = r.phase == .deleting ? "delete to the recycle bin completed at start" : "restore did not complete; the VM stays in the recycle bin"
                r.phase = .binned
                try? store.saveRecycled(r)
            default:
                continue
            }
            events.record(vmUUID: r.vmUUID, vmName: r.vmName, kind: "admin", message: "\(note) (entry \(r.id ?? 0))")
        }
    }
}
