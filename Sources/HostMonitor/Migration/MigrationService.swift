import Core
import Foundation
import Libvirt

/// Moving VMs to another host by hand (`vigil vm migrate`): every reason
/// the destination cannot take the VM is found up front, then the move runs
/// as a journalled operation (`LiveMigration`), and each one is kept in the
/// migration history.
struct MigrationService: Sendable {
    let host: HostContext
    let center: ProtectionCenter
    /// Directories every host sees at the same path: a VM's disks must be there.
    let sharedStorage: SharedStorage
    /// Cluster admission control for the destination (nil: not clustered).
    let cluster: ClusterService?

    /// What the checks found: the VM and how it moves.
    struct Plan: Sendable {
        let uuid: String
        let name: String
        let live: Bool
        let request: MigrationRequest
        /// The disks moving with the VM (a move with storage), nil when they stay on shared storage.
        var storage: StoragePlan?
        /// The destination's libvirt host UUID, as cluster hosts publish theirs.
        var destinationHostUUID: String?
    }

    /// Where each disk goes on the destination, and what goes here afterwards.
    struct StoragePlan: Sendable {
        struct Disk: Sendable {
            var target: String
            var from: String
            var to: String
            var virtualBytes: Int64
        }
        var directory: String?
        var pool: String?
        var disks: [Disk]
        /// Images removed here once the VM runs (or is defined) there; none with keepOld.
        var removeAfter: [String]
    }

    func migrate(vm: String, _ r: MigrationRequest) async throws -> OperationInfo {
        let problems = r.problems
        guard problems.isEmpty else {
            throw APIError.badRequest("cannot migrate: " + problems.joined(separator: "; "), hint: "see 'vigil vm migrate --help'")
        }
        guard r.destination != host.uri else {
            throw APIError.badRequest("the destination is this host (\(host.uri))", hint: "give another host's libvirt URI")
        }
        let plan = try await check(vm: vm, r)
        if let cluster, let uuid = plan.destinationHostUUID {
            try await cluster.admitMigration(name: plan.name, toHostUUID: uuid, destination: r.destination)
        }
        let source = host.uri, store = host.store, events = host.events, executor = host.executor, center = self.center
        let kind = plan.live ? "live" : "offline"
        return try await host.operations.start(kind: "migrate", target: "\(plan.name) -> \(r.destination)") { ctx in
            var record = try store.addMigration(MigrationRecord(
                vmUUID: plan.uuid, vmName: plan.name, started: Date().timeIntervalSince1970, source: source,
                destination: r.destination, kind: kind, options: r.summary, operation: ctx.id))
            events.record(vmUUID: plan.uuid, vmName: plan.name, kind: "migration",
                          message: "\(kind) migration to \(r.destination) started" + (r.summary.isEmpty ? "" : " (\(r.summary))"),
                          action: "migrate", outcome: "started")
            // Journalled first: whatever happens next, a restart leaves the VM on one host.
            try ctx.willDo(.settleMigration(domainUUID: plan.uuid, source: source, destination: r.destination))
            let move = LiveMigration(executor: executor, center: center, source: source, plan: plan)
            do {
                let outcome = try await move.run(ctx)
                if let storage = plan.storage { await removeSourceImages(storage, uuid: plan.uuid) }
                record.apply(outcome)
                record.result = "succeeded"
                try? store.saveMigration(record)
                events.record(vmUUID: plan.uuid, vmName: plan.name, kind: "migration", message: outcome.summary(to: r.destination),
                              action: "migrate", outcome: "succeeded", durationMs: outcome.totalMs)
                return outcome.summary(to: r.destination)
            } catch {
                let ended = Date().timeIntervalSince1970
                record.ended = ended
                record.totalMs = (ended - record.started) * 1000
                record.result = Task.isCancelled ? "cancelled" : "failed"
                record.error = "\(error)"
                try? store.saveMigration(record)
                events.record(vmUUID: plan.uuid, vmName: plan.name, kind: "migration",
                              message: "migration to \(r.destination) \(record.result): \(error); the VM stays on \(source)",
                              action: "migrate", outcome: record.result)
                throw error
            }
        }
    }

    /// After a move with storage: the images left here, unless another VM reads through one.
    private func removeSourceImages(_ storage: StoragePlan, uuid: String) async {
        guard !storage.removeAfter.isEmpty, let conn = try? host.connection(),
              let usage = try? await DiskUsage.around(uuid, conn, host) else { return }
        for path in storage.removeAfter where usage.user(of: path) == nil {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    func history(vm: String?) throws -> [MigrationRecord] { try host.store.migrations(vm: vm) }

    /// Marks migrations a killed vigild left `running` (their operation was
    /// settled by its undo step at start) as interrupted.
    func recover() {
        for var r in (try? host.store.migrations()) ?? [] where r.result == "running" {
            r.result = "interrupted"
            r.error = "vigild stopped during the migration; at restart the VM was left on one host"
            r.ended = Date().timeIntervalSince1970
            try? host.store.saveMigration(r)
        }
    }

    /// Every reason the destination cannot take the VM, at once.
    private func check(vm: String, _ r: MigrationRequest) async throws -> Plan {
        let conn = try host.connection()
        let shared = sharedStorage
        return try await host.executor.run { () throws -> Plan in
            let dom = try conn.domain(nameOrUUID: vm)
            let state = try dom.state().state
            let running = state == .running || state == .paused
            if r.live == true && !running {
                throw APIError.conflict("\(dom.name) is \(state); only a running VM migrates live",
                                        hint: "leave out --live: a shut-off VM's definition moves offline")
            }
            if try running && dom.jobProgress().kind != .none {
                throw APIError.conflict("\(dom.name) is busy with another job (migration, backup, clone)", hint: "wait for it to finish")
            }
            let live = r.live ?? running
            if !live && running {
                throw APIError.conflict("\(dom.name) is running; an offline migration moves a shut-off VM",
                                        hint: "shut it down first, or migrate it live")
            }
            let destination: Connection
            do {
                destination = try Connection(uri: r.destination)
            } catch {
                throw APIError(.badGateway, "cannot reach the destination \(r.destination): \(error)",
                               hint: "check that libvirtd runs and listens there (listen_tcp or TLS)")
            }
            defer { destination.close() }
            var problems: [String] = []
            if (try? destination.domain(uuid: dom.uuid)) != nil || (try? destination.domain(named: dom.name)) != nil {
                problems.append("a VM with its name or UUID is already defined on \(r.destination)")
            }
            let xml = try dom.xml([.inactive, .secure])
            let def = try DomainDefinition(xml: xml)
            let withStorage = r.storageDirectory != nil || r.storagePool != nil
            var storage: StoragePlan?
            if withStorage {
                if try dom.snapshotCount > 0 {
                    problems.append("it has snapshots, whose disk chains a storage move would flatten (delete them first)")
                }
                do {
                    storage = try Self.storagePlan(def, r, on: destination)
                } catch let e as APIError {
                    problems.append(e.body.error)
                }
            } else {
                let local = def.disks.compactMap(\.path).filter { !shared.contains($0) }
                if !local.isEmpty {
                    problems.append("its disks are not on storage both hosts see: \(local.joined(separator: ", ")) "
                        + (shared.isEmpty ? "(vigild has no --shared-storage)" : "(shared: \(shared.directories.joined(separator: ", ")))")
                        + "; move them with it: --storage-dir DIR or --storage-pool POOL on the destination")
                }
            }
            if !def.nonFileDisks.isEmpty {
                problems.append("disks that are not image files (\(def.nonFileDisks.joined(separator: ", "))) cannot be checked for sharing")
            }
            for net in Set(def.networks).sorted() where try !destination.hasNetwork(named: net) {
                problems.append("\(r.destination) has no libvirt network '\(net)'")
            }
            if let cpu = def.cpuModelXML, try !destination.canRun(cpuXML: cpu, virtType: def.virtType) {
                problems.append("\(r.destination)'s CPU cannot run the VM's CPU model")
            }
            if live {
                let needMiB = try dom.info().maxMemoryKiB / 1024
                let freeMiB = try destination.availableMemory / 1_048_576
                if freeMiB < needMiB { problems.append("\(r.destination) has \(freeMiB) MiB of memory available, the VM needs \(needMiB) MiB") }
            }
            guard problems.isEmpty else {
                throw APIError.conflict("cannot migrate \(dom.name) to \(r.destination): " + problems.joined(separator: "; "),
                                        hint: "fix these on the destination, or choose another host")
            }
            return Plan(uuid: dom.uuid, name: dom.name, live: live, request: r, storage: storage,
                        destinationHostUUID: try? destination.hostUUID)
        }
    }

    /// The disks' places on the destination: each problem (no such
    /// directory or pool, a name taken there, too little space) as an error.
    private static func storagePlan(_ def: DomainDefinition, _ r: MigrationRequest, on destination: Connection) throws -> StoragePlan {
        try RemoteStorage.with(destination, directory: r.storageDirectory, pool: r.storagePool) { pool, path in
            try? pool.refresh()
            var disks: [StoragePlan.Disk] = [], problems: [String] = [], need: Int64 = 0
            for d in def.disks where d.isOwned {
                guard let from = d.path else { continue }
                let name = URL(fileURLWithPath: from).lastPathComponent
                if (try? pool.volume(named: name)) != nil { problems.append("\(path)/\(name) already exists on \(destination.uri)") }
                let header: QCOW2.Header? = (try? QCOW2.header(from)) ?? nil
                let size = header?.virtualSize ?? FileFacts.size(from)
                need += size
                disks.append(.init(target: d.target, from: from, to: path + "/" + name, virtualBytes: size))
            }
            if let free = try? pool.availableBytes(), Int64(clamping: free) < need {
                problems.append("\(path) on \(destination.uri) has \(free >> 20) MiB free; the disks need up to \(need >> 20) MiB")
            }
            guard problems.isEmpty else { throw APIError.conflict(problems.joined(separator: "; "), hint: "") }
            return StoragePlan(directory: r.storageDirectory, pool: r.storagePool, disks: disks,
                               removeAfter: r.keepOld == true ? [] : disks.map(\.from))
        }
    }
}
