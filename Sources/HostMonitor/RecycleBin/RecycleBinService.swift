import Core
import Foundation
import Libvirt
import ServiceLifecycle

/// Deleting VMs to the recycle bin, restoring and purging them. Each step is recorded in the database before it is
/// taken (`RecycleRecord.Phase`), so a vigild killed half-way leaves no VM
/// half-deleted: `finishSteps` completes or undoes it at start. Its
/// `run` purges expired entries (a service of the daemon's group).
struct RecycleBinService: Service {
    let host: HostContext
    let tracking: GuestTracking
    let vms: VMService
    let busy: VMBusyMarks
    /// How long deleted VMs stay (nil: until purged by hand).
    let retentionSeconds: Double?

    func run() async throws {
        await cancelWhenGracefulShutdown { await expiryLoop() }
    }

    // MARK: delete to the bin

    /// Undefines the VM, keeping its definition (and with `withDisks` its
    /// disk files) in the bin. Order: record, undefine, move disks, mark binned.
    func recycle(vm: String, _ request: RecycleRequest) async throws -> RecycleEntry {
        let conn = try host.connection()
        let (uuid, name) = try await host.resolve(vm)
        let store = host.store
        let withDisks = request.withDisks ?? false
        let record = try await busy.exclusively(uuid, name) {
            let usage = withDisks ? try await DiskUsage.around(uuid, conn, host) : DiskUsage()
            return try await host.executor.run { () throws -> RecycleRecord in
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
                    try host.store.saveRecycled(r)
                    // A UEFI VM's variables stay on disk for the restore. Backup
                    // checkpoints go (the next backup after a restore is a full).
                    try dom.undefine(xml.contains("<nvram") ? [.keepNVRAM, .checkpointsMetadata] : [.checkpointsMetadata])
                } catch {
                    RecycleBin.removeEmptyDirectories(r.disks)
                    try? host.store.removeRecycled(id: r.id ?? 0)
                    throw error
                }
                do {
                    try RecycleBin.move(RecycleBin.intoBin(r.disks))
                } catch {
                    // Put the VM back as it was.
                    _ = try? conn.define(xml: xml)
                    try? conn.domain(uuid: uuid).setAutostart(r.autostart)
                    RecycleBin.removeEmptyDirectories(r.disks)
                    try? host.store.removeRecycled(id: r.id ?? 0)
                    throw error
                }
                r.phase = .binned
                try host.store.saveRecycled(r)
                return r
            }
        }
        await tracking.forget(uuid)
        let disksNote = record.disks.isEmpty ? "disks left in place" : "\(record.disks.count) disk(s) moved to the bin"
        host.events.record(vmUUID: uuid, vmName: name, kind: "admin", message: "deleted to the recycle bin (entry \(record.id ?? 0)); \(disksNote)",
                      action: "delete", outcome: "succeeded")
        return record.entry(retention: retentionSeconds)
    }

    // MARK: the bin

    func recycleBin() throws -> RecycleBinList {
        let retention = retentionSeconds
        let entries = try host.store.recycled().filter { $0.phase == .binned || $0.phase == .purging }.map { $0.entry(retention: retention) }
        return RecycleBinList(entries: entries, retentionSeconds: retention)
    }

    /// An entry by id, or by VM name or UUID when only one entry has it.
    /// `purging` too: a purge cut short by an error can be asked for again.
    func binRecord(_ key: String, purging: Bool = false) throws -> RecycleRecord {
        let all = try host.store.recycled().filter { $0.phase == .binned || (purging && $0.phase == .purging) }
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
    func restore(_ key: String, _ request: RestoreRequest) async throws -> VMSummary {
        let conn = try host.connection()
        let found = try binRecord(key)
        let name = request.name ?? found.vmName
        if request.name != nil, let problem = VMBuilder.nameProblems(name).first { throw APIError.badRequest("cannot restore as '\(name)': \(problem)", hint: "pick another --name") }
        let uuid = try await busy.exclusively(found.vmUUID, found.vmName) {
            try await host.executor.run { () throws -> String in
                guard var r = try host.store.recycled(id: found.id ?? 0), r.phase == .binned else {
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
                try host.store.saveRecycled(r)
                func backToTheBin() {
                    r.phase = .binned
                    r.vmUUID = binnedUUID
                    try? host.store.saveRecycled(r)
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
                try host.store.removeRecycled(id: r.id ?? 0)
                RecycleBin.removeEmptyDirectories(r.disks)
                return dom.uuid
            }
        }
        host.events.record(vmUUID: uuid, vmName: name, kind: "admin",
                      message: "restored from the recycle bin (entry \(found.id ?? 0))" + (name != found.vmName ? " as \(name) (was \(found.vmName))" : ""),
                      action: "restore", outcome: "succeeded")
        return try await vms.summary(uuid: uuid, name: name)
    }

    /// Deletes an entry and its binned disks for good.
    func purge(_ key: String, _ request: PurgeRequest) async throws -> DeletionResult {
        var r = try binRecord(key, purging: true)
        return try await busy.exclusively(r.vmUUID, r.vmName) {
            r.phase = .purging
            r.wipe = request.wipe ?? false
            try host.store.saveRecycled(r)
            return try await finishPurge(r, reason: "purged from the recycle bin")
        }
    }

    func purgeWiping(_ key: String) async throws -> OperationInfo {
        var r = try binRecord(key, purging: true)
        try busy.claim(r.vmUUID, r.vmName)
        do {
            r.phase = .purging
            r.wipe = true
            try host.store.saveRecycled(r)
            let record = r
            return try await host.operations.start(kind: "wipe", target: "bin entry \(r.id ?? 0) (\(r.vmName))", cancellable: false) { ctx in
                defer { busy.release(record.vmUUID) }
                // The bin's own record (phase purging) is what a restart finishes.
                try ctx.willDo(.finishedAtStart(what: "the recycle bin finishes purging entry \(record.id ?? 0) at start"))
                let result = try await finishPurge(record, reason: "purged from the recycle bin") { p in
                    ctx.progress(p * 0.99, "zero-filling \(record.disks.count) disk(s)")
                }
                return "\(result.vm) purged; zero-filled and deleted: \(result.deletedDisks.joined(separator: ", "))"
            }
        } catch {
            // Not started (the mark would otherwise stay until vigild restarts).
            busy.release(r.vmUUID)
            throw error
        }
    }

    func finishPurge(_ r: RecycleRecord, reason: String,
                     progress: @escaping @Sendable (Double) -> Void = { _ in }) async throws -> DeletionResult {
        let logger = host.logger
        try await host.executor.run {
            try RecycleBin.delete(r.disks.map(\.stored), wipe: r.wipe, log: { logger.info("\($0)") }, progress: progress)
            RecycleBin.removeEmptyDirectories(r.disks)
            try host.store.removeRecycled(id: r.id ?? 0)
        }
        host.events.record(vmUUID: r.vmUUID, vmName: r.vmName, kind: "admin",
                      message: "\(reason) (entry \(r.id ?? 0)); \(r.disks.count) disk(s) deleted" + (r.wipe ? " after zero-filling" : ""),
                      action: "purge", outcome: "succeeded")
        return DeletionResult(vm: r.vmName, deletedDisks: r.disks.map(\.original), wiped: r.wipe, keptDisks: r.disksLeft)
    }

    // MARK: unattended

    /// Purges expired entries (and finishes purges cut short), at start and
    /// then periodically: every quarter of the retention, at most a minute apart.
    func expiryLoop() async {
        let interval = retentionSeconds.map { min(60, max(0.5, $0 / 4)) } ?? 300
        while !Task.isCancelled {
            await purgeExpired(now: Date())
            try? await Task.sleep(for: .seconds(interval))
        }
    }

    func purgeExpired(now: Date) async {
        let retention = retentionSeconds
        for var r in (try? host.store.recycled()) ?? [] {
            let expired = retention.map { r.phase == .binned && r.deletedAt + $0 <= now.timeIntervalSince1970 } ?? false
            guard r.phase == .purging || expired else { continue }
            do {
                try await busy.exclusively(r.vmUUID, r.vmName) {
                    if expired {
                        r.phase = .purging
                        try host.store.saveRecycled(r)
                    }
                    let kept = retention.map { $0 >= 86_400 ? String(format: "%g days", $0 / 86_400) : String(format: "%g s", $0) } ?? ""
                    _ = try await finishPurge(r, reason: expired ? "purged: the recycle bin's retention (\(kept)) passed" : "purge finished")
                }
            } catch {
                host.logger.error("recycle bin: purging entry \(r.id ?? 0) (\(r.vmName)) failed: \(error)")
            }
        }
    }

    /// Completes or undoes deletes and restores a killed vigild left
    /// half-way, judged by whether libvirt still (or already) has the domain.
    func finishSteps(_ conn: Connection) async {
        for var r in (try? host.store.recycled()) ?? [] where r.phase == .deleting || r.phase == .restoring {
            guard !busy.isBusy(r.vmUUID) else { continue }
            let vmUUID = r.vmUUID
            let defined = (try? await host.executor.run { try conn.domain(uuid: vmUUID) }) != nil
            let note: String
            switch (r.phase, defined) {
            case (.deleting, true):
                // Undefine never happened: the VM stays. Disks move only after it.
                try? host.store.removeRecycled(id: r.id ?? 0)
                RecycleBin.removeEmptyDirectories(r.disks)
                note = "delete to the recycle bin did not complete; the VM stays"
            case (.restoring, true):
                try? host.store.removeRecycled(id: r.id ?? 0)
                RecycleBin.removeEmptyDirectories(r.disks)
                note = "restore from the recycle bin completed at start"
            case (.deleting, false), (.restoring, false):
                // Every disk to the bin: the ones still (or again) in place move.
                let left = r.disks.filter { FileManager.default.fileExists(atPath: $0.original) && !FileManager.default.fileExists(atPath: $0.stored) }
                try? RecycleBin.move(RecycleBin.intoBin(left))
                note = r.phase == .deleting ? "delete to the recycle bin completed at start" : "restore did not complete; the VM stays in the recycle bin"
                r.phase = .binned
                try? host.store.saveRecycled(r)
            default:
                continue
            }
            host.events.record(vmUUID: r.vmUUID, vmName: r.vmName, kind: "admin", message: "\(note) (entry \(r.id ?? 0))")
        }
    }
}
