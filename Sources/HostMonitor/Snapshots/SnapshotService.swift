import Core
import Foundation
import Libvirt

/// Snapshots in the API (`/v1/vms/{vm}/snapshots…`): every problem checked
/// up front, then the work runs as a journalled operation — taking
/// (`SnapshotTaker`), reverting (`SnapshotReverter`) and deleting with
/// merges (`SnapshotMerger`). Vigil takes external snapshots (they work for
/// running and shut-off VMs, with or without memory, on any disk format);
/// internal ones made by other tools are listed, reverted and deleted
/// through libvirt.
struct SnapshotService: Sendable {
    let host: HostContext
    let center: ProtectionCenter
    /// One disk-chain operation (snapshot or backup) per VM at a time.
    let busy: VMBusyMarks
    /// vigild --copy-rate-limit, for merges.
    let rateLimitMiBs: Int?

    init(host: HostContext, center: ProtectionCenter, busy: VMBusyMarks, rateLimitMiBs: Int?) {
        self.host = host
        self.center = center
        self.busy = busy
        self.rateLimitMiBs = rateLimitMiBs
    }

    /// What libvirt knows of a VM's snapshots.
    private struct Facts: Sendable {
        var domain: Domain
        var state: DomainState
        var records: [SnapshotRecord]
        var current: String?
        var inactiveXML: String
        var liveXML: String?
        /// A running migration, backup or block job holds the VM.
        var busyWithJob: Bool
    }

    private func facts(_ vm: String) async throws -> Facts {
        let conn = try host.connection()
        return try await host.executor.run {
            let dom = try conn.domain(nameOrUUID: vm)
            var records: [SnapshotRecord] = []
            var current: String?
            for s in try dom.snapshots() {
                records.append(try SnapshotRecord(xml: try s.xml()))
                if try s.isCurrent { current = s.name }
            }
            let state = try dom.state().state
            let active = state == .running || state == .paused
            let busy = active ? try dom.jobProgress().kind != .none : false
            return Facts(domain: dom, state: state, records: records, current: current,
                         inactiveXML: try dom.xml([.inactive]), liveXML: active ? try dom.xml([]) : nil, busyWithJob: busy)
        }
    }

    func list(vm: String) async throws -> SnapshotList {
        let f = try await facts(vm)
        let origins = (try? host.store.snapshotOrigins(vmUUID: f.domain.uuid)) ?? [:]
        let tree = SnapshotTree(f.records.map { .init(name: $0.name, parent: $0.parent, created: $0.created) })
        let byName = Dictionary(f.records.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let infos = tree.ordered.compactMap { (name, depth) -> SnapshotInfo? in
            guard let r = byName[name] else { return nil }
            return SnapshotInfo(name: name, parent: tree.parent(of: name), children: tree.children(of: name), depth: depth,
                                current: name == f.current, description: r.description, created: r.created, state: r.state,
                                memory: r.hasMemory, kind: r.isExternal ? "external" : "internal",
                                diskBytes: r.frozen.values.reduce(0) { $0 + FileFacts.allocated($1.path) },
                                memoryBytes: r.memoryFile.map(FileFacts.size) ?? 0, policy: origins[name])
        }
        return SnapshotList(vm: f.domain.name, snapshots: infos)
    }

    /// Takes a snapshot (`policy`: made by that snapshot policy).
    func create(vm: String, _ r: SnapshotRequest, policy: String? = nil) async throws -> OperationInfo {
        let hint = "vigil snapshot create VM NAME [--memory [--timeout S]] [--quiesce] [--description TEXT]"
        guard r.problems.isEmpty else { throw APIError.badRequest(r.problems.joined(separator: "; "), hint: hint) }
        let f = try await facts(vm)
        let dom = f.domain, name = dom.name
        let running = f.state == .running || f.state == .paused
        var problems: [String] = []
        if f.state != .shutoff && !running {
            problems.append("\(name) is \(f.state) (only running, paused and shut-off VMs can be snapshotted)")
        }
        if r.memory == true && !running { problems.append("\(name) is shut off, so it has no memory to save; leave out --memory") }
        if f.records.contains(where: { $0.name == r.name }) { problems.append("\(name) already has a snapshot named '\(r.name)'") }
        if f.records.contains(where: { !$0.isExternal }) {
            problems.append("\(name) has internal snapshots (made outside Vigil); Vigil takes external ones and does not mix the two in one tree")
        }
        let def = try DomainDefinition(xml: f.liveXML ?? f.inactiveXML)
        var overlays: [String: String] = [:], untouched: [String] = []
        for d in def.disks {
            guard d.isOwned else { untouched.append(d.target); continue }
            guard let path = d.path else {
                problems.append("disk \(d.target) is not an image file; Vigil snapshots file-backed disks only")
                continue
            }
            overlays[d.target] = Self.freePath(URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                               "\(name)-\(d.target)-\(r.name)", ext: "qcow2")
        }
        var memoryFile: String?
        if r.memory == true {
            let dir = def.disks.compactMap(\.path).first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? "/var/lib/libvirt/qemu/save"
            memoryFile = Self.freePath(dir, "\(name)-\(r.name)", ext: "mem")
            // The saved memory is at most the VM's memory; refuse now rather than fill the disk.
            let need = Int64(def.memoryMiB) * 1_048_576 + 64 << 20
            if let free = FileFacts.freeBytes(dir), free < need {
                problems.append("\(dir) has \(free >> 20) MiB free; a memory snapshot of \(name) needs up to \(need >> 20) MiB")
            }
        }
        if f.busyWithJob { problems.append(Self.busyProblem(name)) }
        guard problems.isEmpty else { throw APIError.conflict(problems.joined(separator: "; "), hint: hint) }
        let plan = SnapshotTaker.Plan(domain: dom, uri: host.uri, request: r, running: running, overlays: overlays,
                                      untouched: untouched, memoryFile: memoryFile,
                                      hasGuestAgentChannel: DomainXML.hasChannel(in: f.liveXML ?? f.inactiveXML, channelName: "org.qemu.guest_agent.0"))
        let taker = SnapshotTaker(executor: host.executor, center: center)
        let events = host.events, store = host.store
        return try await exclusively(dom) {
            try await host.operations.start(kind: "snapshot", target: "\(name) @ \(r.name)") { ctx in
                defer { busy.release(dom.uuid) }
                let how = try await taker.perform(plan, ctx)
                if let policy { try? store.recordSnapshotOrigin(vmUUID: dom.uuid, snapshot: r.name, policy: policy) }
                events.record(vmUUID: dom.uuid, vmName: name, kind: "snapshot",
                              message: "snapshot \(r.name) taken\(policy.map { " by policy \($0)" } ?? ""): \(how)")
                return r.name
            }
        }
    }

    func revert(vm: String, snapshot: String, _ r: SnapshotRevertRequest) async throws -> OperationInfo {
        let f = try await facts(vm)
        let dom = f.domain, name = dom.name
        guard let snap = f.records.first(where: { $0.name == snapshot }) else { throw notFound(snapshot, of: name) }
        if r.start == true && snap.hasMemory {
            throw APIError.badRequest("a memory snapshot brings the VM back running by itself; leave out --start (or add --paused)", hint: "vigil snapshot revert VM NAME [--paused]")
        }
        if let m = snap.memoryFile, !FileManager.default.fileExists(atPath: m) {
            throw APIError.conflict("the memory of snapshot \(snapshot) is missing (\(m))", hint: "restore the file, or delete the snapshot")
        }
        try Self.requireNoJob(f)
        let events = host.events
        guard snap.isExternal else {
            return try await exclusively(dom) {
                try await host.operations.start(kind: "snapshot-revert", target: "\(name) @ \(snapshot)") { [executor = host.executor] _ in
                    defer { busy.release(dom.uuid) }
                    var chosen: Snapshot.RevertFlags = [.force]
                    if r.paused == true { chosen.insert(.paused) } else if r.start == true { chosen.insert(.running) }
                    let flags = chosen
                    try await executor.run { try dom.snapshot(named: snapshot).revert(flags) }
                    events.record(vmUUID: dom.uuid, vmName: name, kind: "snapshot", message: "reverted to internal snapshot \(snapshot)")
                    return snapshot
                }
            }
        }
        let def = try DomainDefinition(xml: f.inactiveXML)
        let live = try f.liveXML.map { try DomainDefinition(xml: $0) }
        var overlays: [String: String] = [:], current = Set<String>()
        for (target, image) in snap.frozen {
            guard FileManager.default.fileExists(atPath: image.path) else {
                throw APIError.conflict("the image of disk \(target) at snapshot \(snapshot) is missing (\(image.path))",
                                        hint: "restore the file, or delete the snapshot")
            }
            guard let now = def.disks.first(where: { $0.target == target })?.path else {
                throw APIError.conflict("\(name) no longer has disk \(target), which snapshot \(snapshot) holds",
                                        hint: "add the disk back, or delete the snapshot")
            }
            current.insert(now)
            if let l = live?.disks.first(where: { $0.target == target })?.path { current.insert(l) }
            let stamp = String(UUID().uuidString.prefix(6)).lowercased()
            overlays[target] = Self.freePath(URL(fileURLWithPath: now).deletingLastPathComponent().path,
                                             "\(name)-\(target)-\(snapshot)-r\(stamp)", ext: "qcow2")
        }
        // Never remove an image a snapshot still holds (made outside Vigil's scheme).
        let held = Set(f.records.flatMap { $0.frozen.values.map(\.path) })
        let plan = SnapshotReverter.Plan(domain: dom, uri: host.uri, snapshot: snap, request: r, overlays: overlays,
                                         current: current.subtracting(held).sorted())
        let reverter = SnapshotReverter(executor: host.executor, center: center)
        return try await exclusively(dom) {
            try await host.operations.start(kind: "snapshot-revert", target: "\(name) @ \(snapshot)") { ctx in
                defer { busy.release(dom.uuid) }
                let how = try await reverter.perform(plan, ctx)
                events.record(vmUUID: dom.uuid, vmName: name, kind: "snapshot", message: "reverted to snapshot \(snapshot): \(how)")
                return snapshot
            }
        }
    }

    /// Deletes a snapshot (its state merged into what depends on it), or with
    /// `subtree` also everything below it.
    func delete(vm: String, snapshot: String, subtree: Bool) async throws -> OperationInfo {
        let f = try await facts(vm)
        let dom = f.domain, name = dom.name
        guard f.records.contains(where: { $0.name == snapshot }) else { throw notFound(snapshot, of: name) }
        let tree = SnapshotTree(f.records.map { .init(name: $0.name, parent: $0.parent, created: $0.created) })
        let names = subtree ? tree.subtree(snapshot) : [snapshot]
        let byName = Dictionary(f.records.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let jobs = names.compactMap { byName[$0] }
        try Self.requireNoJob(f)
        let merger = SnapshotMerger(executor: host.executor, rateLimitMiBs: rateLimitMiBs)
        let events = host.events, store = host.store, uri = host.uri, executor = host.executor
        return try await exclusively(dom) {
            try await host.operations.start(kind: "snapshot-delete", target: "\(name) @ \(snapshot)\(subtree ? " and below" : "")",
                                            cancellable: false) { ctx in
                defer { busy.release(dom.uuid) }
                for (i, r) in jobs.enumerated() {
                    if r.isExternal {
                        let job = try await merger.prepare(r.name, domainUUID: dom.uuid, uri: uri)
                        let step = UndoStep.finishSnapshotDelete(job)
                        try ctx.willDo(step)
                        let share = 1 / Double(jobs.count)
                        try await merger.finish(job, journal: { try ctx.willDo($0) }, progress: { p, text in
                            ctx.progress((Double(i) + p) * share, text)
                        })
                        ctx.done(step)
                    } else {
                        try await executor.run { try dom.snapshot(named: r.name).delete() }
                    }
                    try? store.forgetSnapshotOrigin(vmUUID: dom.uuid, snapshot: r.name)
                    events.record(vmUUID: dom.uuid, vmName: name, kind: "snapshot", message: "snapshot \(r.name) deleted")
                }
                return names.joined(separator: ", ")
            }
        }
    }

    private func exclusively(_ dom: Domain, _ start: () async throws -> OperationInfo) async throws -> OperationInfo {
        try busy.claim(dom.uuid, dom.name)
        do { return try await start() } catch {
            busy.release(dom.uuid)
            throw error
        }
    }

    private static func busyProblem(_ name: String) -> String { "\(name) is busy with another job (migration, backup)" }

    private static func requireNoJob(_ f: Facts) throws {
        guard f.busyWithJob else { return }
        throw APIError.conflict(busyProblem(f.domain.name), hint: "wait for it to finish and try again")
    }

    private func notFound(_ snapshot: String, of vm: String) -> APIError {
        .notFound("\(vm) has no snapshot named '\(snapshot)'", hint: "list them with 'vigil snapshot list \(vm)'")
    }

    /// `dir/base.ext`, or `dir/base-2.ext`… when taken: Vigil never overwrites a file.
    static func freePath(_ dir: String, _ base: String, ext: String) -> String {
        var path = dir + "/\(base).\(ext)", n = 2
        while FileManager.default.fileExists(atPath: path) {
            path = dir + "/\(base)-\(n).\(ext)"
            n += 1
        }
        return path
    }
}
