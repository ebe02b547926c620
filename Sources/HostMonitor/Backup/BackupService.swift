import Core
import Foundation
import Libvirt

/// Backups in the API (`/v1/vms/{vm}/backups`, `/v1/backups…`): each
/// request checked up front, then the work runs as a journalled operation
/// (`BackupTaker`, `BackupRestorer`); listing and verify read the
/// repository (`BackupStore`) directly. One disk-chain operation (snapshot
/// or backup) per VM at a time.
struct BackupService: Sendable {
    let host: HostContext
    let settings: BackupSettings
    let busy: VMBusyMarks
    let copier: DiskCopier

    init(host: HostContext, settings: BackupSettings, busy: VMBusyMarks, copier: DiskCopier) {
        self.host = host
        self.settings = settings
        self.busy = busy
        self.copier = copier
    }

    /// The repository a request names, or vigild's default one.
    func store(_ destination: String?) throws -> any BackupStore {
        guard let text = destination ?? settings.destination else {
            throw APIError.badRequest("no backup destination given, and vigild has no default",
                                      hint: "add --destination DIR or ssh://[USER@]HOST[:PORT]/PATH, or start vigild with --backup-destination")
        }
        return try BackupStores.open(text, ssh: settings.ssh)
    }

    /// Every whole backup in a repository (optionally of one VM, by name or UUID), oldest first.
    func backups(in store: any BackupStore, vm: String? = nil) async throws -> [BackupInfo] {
        let found: [(path: String, data: Data)]
        do { found = try await store.manifests() } catch {
            throw APIError.unavailable("\(error)", hint: "check the destination \(store.destination)")
        }
        var list: [BackupInfo] = []
        for (path, data) in found {
            guard var m = try? BackupManifest.decode(data) else {
                host.logger.warning("unreadable backup manifest", metadata: ["path": "\(path)"])
                continue
            }
            // The directory decides where the backup is, whatever the manifest says.
            let parts = path.split(separator: "/")
            guard parts.count >= 3, String(parts[parts.count - 2]) == m.info.id, String(parts[parts.count - 3]) == m.info.vmUUID else { continue }
            m.info.destination = store.destination.description
            if let vm, m.info.vm != vm && m.info.vmUUID != vm { continue }
            list.append(m.info)
        }
        return BackupChain(list).backups
    }

    func list(vm: String?, destination: String?) async throws -> BackupList {
        let store = try store(destination)
        return BackupList(destination: store.destination.description, backups: try await backups(in: store, vm: vm))
    }

    /// A manifest by backup id.
    func manifest(_ id: String, in store: any BackupStore) async throws -> BackupManifest {
        guard BackupLayout.isBackupID(id) else {
            throw APIError.badRequest("'\(id)' is not a backup id", hint: "list them with 'vigil backup list'")
        }
        for (path, data) in try await store.manifests() where path.hasSuffix("/\(id)/\(BackupManifest.fileName)") {
            if var m = try? BackupManifest.decode(data), m.info.id == id {
                m.info.destination = store.destination.description
                return m
            }
            throw APIError.conflict("the manifest of backup \(id) is unreadable (\(path))", hint: "verify the repository; restore from another backup")
        }
        throw APIError.notFound("\(store.destination) has no backup \(id)", hint: "list them with 'vigil backup list'")
    }

    /// What libvirt says of the VM, read in one go.
    private struct Facts: Sendable {
        var domain: Domain
        var state: DomainState
        var inactiveXML: String
        var liveXML: String?
        var checkpoints: Set<String>
        var busyWithJob: Bool
        var hasSnapshots: Bool
    }

    private func facts(_ vm: String) async throws -> Facts {
        let conn = try host.connection()
        return try await host.executor.run {
            let dom = try conn.domain(nameOrUUID: vm)
            let state = try dom.state().state
            let active = state == .running || state == .paused
            return Facts(domain: dom, state: state, inactiveXML: try dom.xml([.inactive, .secure]), liveXML: active ? try dom.xml([]) : nil,
                         checkpoints: Set(try dom.checkpoints().map(\.name)),
                         busyWithJob: active ? try dom.jobProgress().kind != .none : false,
                         hasSnapshots: try dom.snapshotCount > 0)
        }
    }

    func create(vm: String, _ r: BackupRequest, policy: String? = nil) async throws -> OperationInfo {
        let hint = "vigil backup create VM [--level full|incremental|differential|auto] [--destination D] [--keep N]"
        guard r.problems.isEmpty else { throw APIError.badRequest(r.problems.joined(separator: "; "), hint: hint) }
        let store = try store(r.destination)
        let f = try await facts(vm)
        let dom = f.domain, name = dom.name
        let running = f.state == .running || f.state == .paused
        var problems: [String] = []
        if f.state != .shutoff && !running {
            problems.append("\(name) is \(f.state) (only running, paused and shut-off VMs can be backed up)")
        }
        if f.busyWithJob { problems.append("\(name) is busy with another job (migration, backup, block copy)") }
        let def = try DomainDefinition(xml: f.liveXML ?? f.inactiveXML)
        var disks: [BackupTaker.Disk] = [], skipped: [String] = [], allQcow2 = true, paths: [String] = []
        for d in def.disks {
            guard d.isOwned, let path = d.path else { skipped.append(d.target); continue }
            guard FileManager.default.fileExists(atPath: path) else { problems.append("disk \(d.target) (\(path)) is missing"); continue }
            // qcow2 headers are read in-process (a qemu-img run per disk costs more than a small incremental).
            let header: QCOW2.Header? = (try? QCOW2.header(path)) ?? nil
            var virtual = header?.virtualSize
            if virtual == nil { virtual = (try? await DiskImage.info(path))?.virtualSize }
            disks.append(.init(target: d.target, virtualBytes: virtual ?? FileFacts.size(path)))
            paths.append(path)
            if d.format != "qcow2" || header == nil { allQcow2 = false }
        }
        if disks.isEmpty { problems.append("\(name) has no disk of its own to back up") }
        guard problems.isEmpty else { throw APIError.conflict(problems.joined(separator: "; "), hint: hint) }

        let existing = try await backups(in: store, vm: dom.uuid)
        let level = r.level ?? .auto
        var decision = BackupChain(existing).decide(level) {
            f.checkpoints.contains(BackupLayout.checkpointName($0.id, destination: store.destination))
        }
        if !allQcow2, case .build = decision {
            decision = .full(reason: "not all of \(name)'s disks are qcow2, and only qcow2 images keep the dirty bitmaps an incremental needs")
        }
        if case .full(let reason?) = decision, level != .auto && level != .full {
            // Asked for a level that cannot be had: say so instead of silently copying everything.
            throw APIError.conflict("cannot take a\(level == .incremental ? "n" : "") \(level.rawValue) backup of \(name): \(reason)",
                                    hint: "take a full backup first (--level full), or use --level auto, which falls back to a full by itself")
        }
        if case .full = decision, let free = try? await store.freeBytes(store.destination.root),
           case let allocated = await Self.chainBytes(paths), free < allocated {
            throw APIError.conflict("\(store.destination) has \(free >> 20) MiB free; a full backup of \(name) needs up to \(allocated >> 20) MiB",
                                    hint: "free space there, or back up elsewhere (--destination)")
        }
        let temp = r.tempDirectory ?? settings.tempDirectory
        let plan = BackupTaker.Plan(
            domain: dom, uri: host.uri, store: store, ssh: settings.ssh, id: BackupLayout.newID(), decision: decision,
            disks: disks, skipped: skipped, checkpoints: allQcow2, running: running, quiesce: r.quiesce,
            hasGuestAgentChannel: DomainXML.hasChannel(in: f.liveXML ?? f.inactiveXML, channelName: "org.qemu.guest_agent.0"),
            compress: r.compress ?? false, rateLimitMiBs: r.rateLimitMiBs, tempDirectory: temp, definition: f.inactiveXML, policy: policy,
            existing: existing)
        let taker = BackupTaker(executor: host.executor)
        let retention = BackupRetention(events: host.events)
        let events = host.events, keep = r.keep
        try busy.claim(dom.uuid, name)
        do {
            return try await host.operations.start(kind: "backup", target: "\(name) → \(store.destination)") { ctx in
                defer { busy.release(dom.uuid) }
                let m = try await taker.perform(plan, ctx)
                let i = m.info
                if let n = i.note { ctx.note(n) }
                events.record(vmUUID: dom.uuid, vmName: name, kind: "backup",
                              message: "\(i.level.rawValue) backup \(i.id) to \(store.destination): \(i.storedBytes >> 20) MiB stored, \(i.consistency)"
                                + (i.parent.map { ", on \($0)" } ?? "") + (policy.map { ", by policy \($0)" } ?? "") + (i.note.map { "; \($0)" } ?? ""))
                if let keep { try await retention.keep(keep, of: dom.uuid, in: store, listing: { try await backups(in: store, vm: dom.uuid) }) }
                return i.id
            }
        } catch {
            busy.release(dom.uuid)
            throw error
        }
    }

    func delete(id: String, destination: String?) async throws -> BackupList {
        let store = try store(destination)
        let m = try await manifest(id, in: store)
        let all = try await backups(in: store, vm: m.info.vmUUID)
        let dependents = all.filter { BackupChain(all).lineage($0.id)?.dropFirst().contains { $0.id == id } ?? false }
        guard dependents.isEmpty else {
            throw APIError.conflict("backup \(id) is needed by \(dependents.map(\.id).joined(separator: ", "))",
                                    hint: "delete those first (newest first), or let retention (--keep) remove whole chains")
        }
        try await BackupRetention(events: host.events).remove([m.info], from: store, why: "deleted by an admin")
        return BackupList(destination: store.destination.description, backups: try await backups(in: store, vm: m.info.vmUUID))
    }

    /// Recomputes the checksums of backup `id` and everything it builds on
    /// (or of every backup of `vm`).
    func verify(id: String?, vm: String?, destination: String?) async throws -> BackupVerifyResult {
        let store = try store(destination)
        let verifier = BackupVerifier(executor: host.executor)
        let targets: [BackupManifest]
        if let id {
            let m = try await manifest(id, in: store)
            let all = try await manifests(of: m.info.vmUUID, in: store)
            let chain = BackupChain(all.map(\.info)).lineage(id)?.map(\.id) ?? [id]
            targets = chain.compactMap { c in all.first { $0.info.id == c } }
        } else if let vm {
            targets = try await manifests(of: vm, in: store)
        } else {
            targets = try await manifests(of: nil, in: store)
        }
        let result = await verifier.verify(targets, in: store)
        for d in result.damage {
            let m = targets.first { $0.info.id == d.backup }
            host.events.record(vmUUID: m?.info.vmUUID, vmName: m?.info.vm, kind: "backup",
                               message: "verify: backup \(d.backup) disk \(d.disk) damaged at bytes \(d.offset)-\(d.offset + d.length): \(d.problem)")
        }
        if result.ok {
            host.events.record(kind: "backup", message: "verify: \(result.checked.count) backup(s) in \(store.destination) intact (\(result.bytesRead >> 20) MiB read)")
        }
        return result
    }

    func restore(id: String, _ r: BackupRestoreRequest) async throws -> OperationInfo {
        let hint = "vigil backup restore BACKUP (--name NEW | --in-place [--force]) [--storage DIR | --pool POOL] [--start]"
        guard r.problems.isEmpty else { throw APIError.badRequest(r.problems.joined(separator: "; "), hint: hint) }
        let store = try store(r.destination)
        let top = try await manifest(id, in: store)
        let all = try await manifests(of: top.info.vmUUID, in: store)
        guard let chain = BackupChain(all.map(\.info)).lineage(id) else {
            throw APIError.conflict("backup \(id) cannot be restored: a backup it builds on is missing from \(store.destination)",
                                    hint: "restore another backup ('vigil backup list'), or verify the repository")
        }
        let lineage = chain.compactMap { c in all.first { $0.info.id == c.id } }
        let definition: String
        do {
            definition = try await fetchDefinition(top, store: store)
        } catch {
            throw APIError.conflict("the definition stored with backup \(id) cannot be read: \(error)", hint: "verify the repository")
        }
        let stored = try DomainDefinition(xml: definition)
        let conn = try host.connection()
        var pool: StoragePool?
        var directory = r.storageDirectory
        if let name = r.storagePool {
            let found = try await host.executor.run { try PoolDisks.directory(pool: name, conn, hint: hint) }
            pool = found.pool
            directory = found.path
        }
        if let d = directory, !FileFacts.isDirectory(d) {
            throw APIError.badRequest("storage directory '\(d)' does not exist", hint: "create it, or give another one")
        }
        let uuid = top.info.vmUUID
        let existing = try await host.executor.run { () throws -> (xml: String, state: DomainState, snapshots: Int)? in
            guard let dom = try? conn.domain(uuid: uuid) else { return nil }
            return (try dom.xml([.inactive, .secure]), try dom.state().state, try dom.snapshotCount)
        }
        var disks: [String: String] = [:], sizes: [String: Int64] = [:]
        let mode: BackupRestorer.Mode
        if r.inPlace == true, existing == nil,
           let other = try? await host.executor.run({ try conn.domain(named: top.info.vm) }) {
            throw APIError.conflict("\(top.info.vm) is gone, and another VM (\(other.uuid)) now has its name",
                                    hint: "restore beside it with --name NEW")
        }
        if r.inPlace == true {
            if let e = existing {
                if (e.state == .running || e.state == .paused) && r.force != true {
                    throw APIError.conflict("\(top.info.vm) is \(e.state); an in-place restore replaces its disks",
                                            hint: "shut it down first, or add --force to power it off")
                }
                if e.snapshots > 0 {
                    throw APIError.conflict("\(top.info.vm) has \(e.snapshots) snapshot(s), whose disk chains an in-place restore would replace",
                                            hint: "delete its snapshots first, or restore beside it (--name NEW)")
                }
            }
            let stamp = id.suffix(4)
            for d in top.info.disks {
                let was = stored.disks.first { $0.target == d.target }?.path
                let dir = directory ?? was.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? copierDirectory
                disks[d.target] = SnapshotService.freePath(dir, "\(top.info.vm)-\(d.target)-restored-\(stamp)", ext: "qcow2")
                sizes[d.target] = d.virtualBytes
            }
            // Its images go after the restore, unless another VM reads through one (a linked clone).
            let usage = existing == nil ? DiskUsage() : try await DiskUsage.around(uuid, conn, host)
            let old = (existing.map { DomainDefinition.diskFiles(in: $0.xml).filter(\.isOwned).map(\.path) } ?? [])
                .filter { usage.user(of: $0) == nil }
            mode = .inPlace(domainUUID: uuid, current: existing?.xml, oldDisks: old,
                            stop: existing.map { $0.state == .running || $0.state == .paused } ?? false)
        } else {
            let name = r.name ?? ""
            let problems = VMBuilder.nameProblems(name)
            guard problems.isEmpty else { throw APIError.badRequest(problems.joined(separator: "; "), hint: hint) }
            if (try? await host.executor.run { try conn.domain(named: name) }) != nil {
                throw APIError.conflict("a VM named '\(name)' already exists", hint: "choose another name, or restore over it with --in-place")
            }
            for d in top.info.disks {
                let was = stored.disks.first { $0.target == d.target }?.path
                let dir = directory ?? was.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? copierDirectory
                let path = dir + "/\(name)-\(d.target).qcow2"
                if FileManager.default.fileExists(atPath: path) {
                    throw APIError.conflict("\(path) already exists", hint: "Vigil never overwrites a disk: choose another name or --storage")
                }
                disks[d.target] = path
                sizes[d.target] = d.virtualBytes
            }
            mode = .newVM(name: name, uuid: UUID().uuidString.lowercased())
        }
        let missingDirs = Set(disks.values.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }).filter { !FileFacts.isDirectory($0) }
        guard missingDirs.isEmpty else {
            throw APIError.conflict("the disks' directory \(missingDirs.sorted().joined(separator: ", ")) does not exist on this host",
                                    hint: "give --storage DIR or --pool POOL")
        }
        let plan = BackupRestorer.Plan(store: store, lineage: lineage, definition: definition, connection: conn, uri: host.uri,
                                       disks: disks, virtualBytes: sizes, tempDirectory: r.tempDirectory ?? settings.tempDirectory,
                                       mode: mode, start: r.start ?? false, pool: pool)
        let restorer = BackupRestorer(executor: host.executor, copier: copier, events: host.events)
        let what = r.inPlace == true ? "\(top.info.vm) in place" : (r.name ?? "")
        try busy.claim(uuid, top.info.vm)
        do {
            return try await host.operations.start(kind: "backup-restore", target: "\(id) → \(what)") { ctx in
                defer { busy.release(uuid) }
                return try await restorer.perform(plan, ctx)
            }
        } catch {
            busy.release(uuid)
            throw error
        }
    }

    /// What a full copies at most: everything the disks' whole backing chains hold.
    private static func chainBytes(_ paths: [String]) async -> Int64 {
        var total: Int64 = 0
        for path in paths {
            for layer in (try? await DiskImage.backingChain(path)) ?? [path] { total += FileFacts.allocated(layer) }
        }
        return total
    }

    /// Where restored disks go when neither the request nor the backup says.
    private var copierDirectory: String { "/var/lib/libvirt/images" }

    private func fetchDefinition(_ m: BackupManifest, store: any BackupStore) async throws -> String {
        let path = BackupLayout.directory(store.destination.root, m.info.vmUUID, m.info.id) + "/domain.xml"
        if store.localRoot != nil {
            guard let data = FileManager.default.contents(atPath: path) else { throw BackupStoreError(description: "\(path) is missing") }
            return String(decoding: data, as: UTF8.self)
        }
        let local = settings.tempDirectory + "/domain-\(UUID().uuidString.prefix(8)).xml"
        try FileManager.default.createDirectory(atPath: settings.tempDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: local) }
        try await store.download(path, to: local)
        return String(decoding: FileManager.default.contents(atPath: local) ?? Data(), as: UTF8.self)
    }

    private func manifests(of vm: String?, in store: any BackupStore) async throws -> [BackupManifest] {
        try await store.manifests().compactMap { try? BackupManifest.decode($0.data) }
            .filter { vm == nil || $0.info.vmUUID == vm || $0.info.vm == vm }
            .sorted { ($0.info.created, $0.info.id) < ($1.info.created, $1.info.id) }
    }
}
