import Core
import Foundation
import Libvirt

/// Moving a VM's storage on this host (`vigil vm move-storage`): every
/// problem checked up front, then the move runs as a journalled operation
/// (`StorageMove`): live by block copy and pivot, or offline by copy and
/// redefinition.
struct StorageMoveService: Sendable {
    let host: HostContext
    /// One disk-chain operation (snapshot, backup, storage move) per VM.
    let busy: VMBusyMarks

    func move(vm: String, _ r: StorageMoveRequest) async throws -> OperationInfo {
        let hint = "vigil vm move-storage VM --dir DIR | --pool POOL [--keep-old]"
        guard r.problems.isEmpty else { throw APIError.badRequest(r.problems.joined(separator: "; "), hint: hint) }
        let conn = try host.connection()
        let facts = try await host.executor.run { () throws -> (Domain, DomainState, String, Int, Bool, StoragePool?, String) in
            let dom = try conn.domain(nameOrUUID: vm)
            let state = try dom.state().state
            let active = state == .running || state == .paused
            var pool: StoragePool?
            var dir = r.directory ?? ""
            if let name = r.pool {
                (pool, dir) = try PoolDisks.directory(pool: name, conn, hint: hint)
            }
            return (dom, state, try dom.xml(active ? [.secure] : [.inactive, .secure]), try dom.snapshotCount,
                    active ? try dom.jobProgress().kind != .none : false, pool, dir)
        }
        let (dom, state, xml, snapshots, busyWithJob, pool, directory) = facts
        let running = state == .running || state == .paused
        var problems: [String] = []
        if state != .shutoff && !running { problems.append("\(dom.name) is \(state) (only running, paused and shut-off VMs move)") }
        if snapshots > 0 { problems.append("\(dom.name) has \(snapshots) snapshot(s), whose disk chains a move would flatten (delete them first)") }
        if busyWithJob { problems.append("\(dom.name) is busy with another job (migration, backup, block copy)") }
        if !FileFacts.isDirectory(directory) { problems.append("directory '\(directory)' does not exist") }
        let def = try DomainDefinition(xml: xml)
        var disks: [StorageMove.Disk] = []
        for d in def.disks where d.isOwned {
            guard let from = d.path else { problems.append("disk \(d.target) is not an image file; Vigil moves file-backed disks only"); continue }
            if URL(fileURLWithPath: from).deletingLastPathComponent().path == URL(fileURLWithPath: directory).standardized.path {
                continue  // already there
            }
            var to = directory + "/" + URL(fileURLWithPath: from).lastPathComponent
            if FileManager.default.fileExists(atPath: to) { to = SnapshotService.freePath(directory, "\(dom.name)-\(d.target)", ext: "qcow2") }
            let size = (try? await DiskImage.info(from).virtualSize) ?? FileFacts.size(from)
            disks.append(.init(target: d.target, from: from, to: to, virtualBytes: size))
        }
        if disks.isEmpty && problems.isEmpty { problems.append("\(dom.name)'s disks are already in \(directory)") }
        let need = disks.reduce(Int64(0)) { $0 + FileFacts.allocated($1.from) }
        if let free = FileFacts.freeBytes(directory), free < need {
            problems.append("\(directory) has \(free >> 20) MiB free; the disks need up to \(need >> 20) MiB")
        }
        guard problems.isEmpty else { throw APIError.conflict("cannot move the storage of \(dom.name): " + problems.joined(separator: "; "), hint: hint) }
        var removeAfter: [String] = []
        if r.keepOld != true {
            let usage = try await DiskUsage.around(dom.uuid, conn, host)
            removeAfter = disks.map(\.from).filter { usage.user(of: $0) == nil }
        }
        let plan = StorageMove.Plan(domain: dom, uri: host.uri, running: running, disks: disks, removeAfter: removeAfter, pool: pool)
        let mover = StorageMove(executor: host.executor, events: host.events)
        try busy.claim(dom.uuid, dom.name)
        do {
            return try await host.operations.start(kind: "move-storage", target: "\(dom.name) -> \(directory)") { ctx in
                defer { busy.release(dom.uuid) }
                return try await mover.perform(plan, ctx)
            }
        } catch {
            busy.release(dom.uuid)
            throw error
        }
    }
}
