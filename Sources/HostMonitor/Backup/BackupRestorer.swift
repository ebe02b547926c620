import Core
import Foundation
import Libvirt

/// Brings a backup back: each disk's chain (the backup and every one it
/// builds on) flattened by `qemu-img convert` into a new independent image,
/// then either a new VM beside the original (new UUID, new MACs) or the
/// original VM's definition and disks as they were at the backup. Chains
/// that are remote or compressed are first fetched into scratch space.
/// Every file made is journalled; the original's disks go only once the
/// restored definition is in place.
struct BackupRestorer: Sendable {
    let executor: BlockingExecutor
    let copier: DiskCopier
    let events: EventLog

    struct Plan: Sendable {
        var store: any BackupStore
        /// The backup restored first, then what it builds on, down to the full.
        var lineage: [BackupManifest]
        var definition: String
        var connection: Connection
        var uri: String
        /// Target → the restored image's path.
        var disks: [String: String]
        var virtualBytes: [String: Int64]
        var tempDirectory: String
        var mode: Mode
        var start: Bool
        var pool: StoragePool?
    }

    enum Mode: Sendable {
        case newVM(name: String, uuid: String)
        /// Over the original (`current`: its definition now, nil when it is gone;
        /// `oldDisks`: its images now, removed once the restore is in place).
        case inPlace(domainUUID: String, current: String?, oldDisks: [String], stop: Bool)
    }

    func perform(_ plan: Plan, _ ctx: OperationContext) async throws -> String {
        let top = plan.lineage[0]
        let (sources, scratch) = try await materialize(plan, ctx)
        let total = Double(max(plan.virtualBytes.values.reduce(0, +), 1))
        var done = 0.0
        for (target, to) in plan.disks.sorted(by: { $0.key < $1.key }) {
            try ctx.checkCancelled()
            guard let from = sources[target] else { continue }
            try ctx.willCreate(file: to)
            let base = done, size = Double(plan.virtualBytes[target] ?? 0)
            try await DiskImage.convert(from: from, to: to, sourceFormat: "qcow2",
                                        started: { pid in try ctx.willDo(.killProcess(pid: pid, marker: to)) },
                                        progress: { p in ctx.progress(0.3 + 0.65 * (base + p * size) / total, "restoring \(target) (\(Int(p * 100))%)") })
            done += size
        }
        if let scratch {
            try? FileManager.default.removeItem(atPath: scratch)
            ctx.done(.removeFile(path: scratch))
        }
        if let pool = plan.pool { try? await executor.run { try pool.refresh() } }
        let conn = plan.connection
        switch plan.mode {
        case .newVM(let name, let uuid):
            let copies = plan.disks.map { DiskCopier.Copy(target: $0.key, from: "", format: "qcow2", to: $0.value, virtualSize: 0) }
            try await copier.define(plan.definition, name: name, uuid: uuid, disks: copies, on: conn, uri: plan.uri,
                                    start: plan.start, ctx)
            events.record(vmUUID: uuid, vmName: name, kind: "backup",
                          message: "restored from \(top.info.level.rawValue) backup \(top.info.id) of \(top.info.vm) (\(plan.lineage.count) backup(s) in its chain)")
            return name
        case .inPlace(let uuid, let current, let oldDisks, let stop):
            var def = try DomainDefinition(xml: plan.definition)
            def.setDiskImages(plan.disks)
            let xml = def.xml
            try ctx.willDo(current.map { .redefineDomain(xml: $0, uri: plan.uri) } ?? .undefineDomain(uuid: uuid, uri: plan.uri))
            try await executor.run {
                if stop, let dom = try? conn.domain(uuid: uuid), try dom.isActive { try dom.destroy() }
                if let dom = try? conn.domain(uuid: uuid) {
                    // Their bitmaps went with the old images: the next backup starts a new chain.
                    for cp in (try? dom.checkpoints()) ?? [] { try? cp.delete(metadataOnly: true) }
                }
                let dom = try conn.define(xml: xml)
                if plan.start { try dom.create() }
            }
            // Committed: the restored images and definition stay; the old images go.
            for step in ctx.undoSteps { ctx.done(step) }
            let restored = Set(plan.disks.values)
            for old in oldDisks where !restored.contains(old) {
                try ctx.willDo(.removeFileUnlessUsed(path: old, domainUUID: uuid, uri: plan.uri))
                try? FileManager.default.removeItem(atPath: old)
            }
            events.record(vmUUID: uuid, vmName: top.info.vm, kind: "backup",
                          message: "restored in place from \(top.info.level.rawValue) backup \(top.info.id) (\(plan.lineage.count) backup(s) in its chain)")
            return top.info.vm
        }
    }

    /// Each disk's top image, readable with its chain: in place for a local
    /// uncompressed repository, else fetched (and decompressed) into scratch
    /// space laid out like the repository, so the relative backing names work.
    private func materialize(_ plan: Plan, _ ctx: OperationContext) async throws -> (images: [String: String], scratch: String?) {
        let store = plan.store, top = plan.lineage[0]
        let uuid = top.info.vmUUID
        let compressed = plan.lineage.contains { $0.info.compressed }
        if let root = store.localRoot, !compressed {
            return (Dictionary(uniqueKeysWithValues: top.info.disks.map {
                ($0.target, BackupLayout.directory(root, uuid, top.info.id) + "/" + $0.file)
            }), nil)
        }
        let scratch = plan.tempDirectory + "/restore-\(ctx.id)"
        try ctx.willCreate(file: scratch)
        let files = plan.lineage.flatMap { m in m.files.map { (m, $0) } }
        for (i, (m, file)) in files.enumerated() {
            try ctx.checkCancelled()
            ctx.progress(0.3 * Double(i) / Double(files.count), "fetching \(m.info.id)/\(file.name)")
            let dir = scratch + "/\(m.info.id)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let remote = BackupLayout.directory(store.destination.root, uuid, m.info.id) + "/" + file.name
            let local = dir + "/" + file.name
            if let root = store.localRoot, file.name.hasSuffix(".zst") {
                try await Compression.decompress(BackupLayout.directory(root, uuid, m.info.id) + "/" + file.name,
                                                 to: dir + "/" + String(file.name.dropLast(4)))
                continue
            }
            try await store.download(remote, to: local)
            if file.name.hasSuffix(".zst") {
                try await Compression.decompress(local, to: dir + "/" + String(file.name.dropLast(4)))
                try FileManager.default.removeItem(atPath: local)
            }
        }
        return (Dictionary(uniqueKeysWithValues: top.info.disks.map {
            ($0.target, scratch + "/\(top.info.id)/" + BackupLayout.image($0.target))
        }), scratch)
    }
}
