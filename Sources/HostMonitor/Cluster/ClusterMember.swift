import Core
import Foundation
import Libvirt
import Logging
import ServiceLifecycle

/// This host's side of cluster HA (the "local resource manager" of Proxmox):
/// it holds the host lease, writes the storage heartbeat, tells the cluster
/// what runs here, starts what the manager placed here (only with the
/// placement's fencing token), and fences its own HA VMs when it can no
/// longer renew its lease, before another host may start them.
actor ClusterMember {
    private let host: HostContext
    private let etcd: EtcdClient
    private let keys: ClusterKeys
    private let settings: ClusterSettings
    private let storage: StorageHeartbeat
    private let facts: LocalVMFacts
    private let events: ClusterEventLog
    private let logger: Logger
    /// Where `vigil host maintenance` marks this host (out of HA placement).
    private let maintenanceMark: String

    private var lease: Int64?
    /// When the last successful renewal was *sent* (etcd renewed it no earlier).
    private var lastRenewal: ContinuousClock.Instant?
    private var fenced = false
    /// HA VMs this host stopped when it fenced itself; still wanted running.
    private var fencedVMs: [String: String] = [:]
    private var holdingWithoutQuorum = false
    /// When a call last reached etcd's leader (every successful call does: reads are linearizable).
    private var lastLeaderContact: ContinuousClock.Instant?
    /// Every host's storage heartbeat as this host watched it (read at each beat).
    private var beats = StorageBeatWatch()
    /// When this host's sync first saw each known host without its record
    /// (its lease gone), on this host's clock.
    private var hostsGone: [String: ContinuousClock.Instant] = [:]
    private var hostsKnown: Set<String> = []
    private var seq = UInt64(Date().timeIntervalSince1970 * 1000)
    /// Placement revisions this host has acted on (a start, or running it).
    private var handled: [String: Int64] = [:]
    /// Statuses of starts in progress or failed here.
    private var startStatus: [String: VMStatusRecord] = [:]
    private var publishedHost: HostRecord?
    /// libvirt's host UUID, read once (it is libvirtd's configuration, not state).
    private var hostUUID: String?
    private var conflicts: Set<String> = []

    init(host: HostContext, etcd: EtcdClient, keys: ClusterKeys, settings: ClusterSettings, storage: StorageHeartbeat,
         facts: LocalVMFacts, events: ClusterEventLog, maintenanceMark: String) {
        self.host = host
        self.maintenanceMark = maintenanceMark
        self.etcd = etcd
        self.keys = keys
        self.settings = settings
        self.storage = storage
        self.facts = facts
        self.events = events
        self.logger = host.logger
    }

    var currentLease: Int64? { lease }
    var isFenced: Bool { fenced }

    /// What this host watched of the others while it was only a member: a
    /// manager elected here starts its term from it, not from nothing (which
    /// counted a dead manager's own lease and heartbeat from the election,
    /// ~5 s late). Both are this host's own observations on its own clock,
    /// made no earlier than the facts: a fence is still due before them.
    var observations: (beats: StorageBeatWatch, goneSince: [String: ContinuousClock.Instant]) { (beats, hostsGone) }

    // MARK: the lease

    /// One renewal (or a new lease); called every second.
    func renew() async {
        let sent = ContinuousClock.now
        do {
            if let id = lease {
                let ttl = try await etcd.keepAlive(id)
                lastLeaderContact = .now
                if ttl > 0 {
                    lastRenewal = sent
                    holdingWithoutQuorum = false
                } else if holdingWithoutQuorum {
                    // It ran out while nobody could reach a leader: nobody could move a
                    // placement either, and this host's storage heartbeat went on, so
                    // its VMs are still its own. Join again without stopping them.
                    lease = nil
                    holdingWithoutQuorum = false
                    await events.record("rejoin", "\(settings.hostID)'s lease ran out while etcd had no quorum: it joins again with its VMs running")
                } else {
                    lease = nil
                    await fence(because: "its etcd lease expired")
                }
                return
            }
            let id = try await etcd.grantLease(ttlSeconds: settings.leaseTTLSeconds)
            lastLeaderContact = .now
            lease = id
            lastRenewal = sent
            publishedHost = nil
            if fenced {
                fenced = false
                beat()
                await events.record("rejoined", "\(settings.hostID) holds a lease again after fencing itself; its fenced VMs (\(fencedVMs.values.sorted().joined(separator: ", "))) wait for the manager")
            }
        } catch {
            logger.debug("cluster: lease renewal failed: \(error)")
        }
    }

    /// The watchdog: fences once the lease may be about to run out (every 200 ms).
    func checkFence() async {
        guard lease != nil, !fenced, let last = lastRenewal else { return }
        let now = ContinuousClock.now
        guard pastFencePoint(last, now: now) else { return }
        let nobodyReachesLeader = noHostReachesLeader()
        if nobodyReachesLeader, let contact = lastLeaderContact, contact.duration(to: now) < Self.evidenceDelay + .milliseconds(500) {
            return  // too soon to tell an outage from a cut: look again in 200 ms
        }
        let leaderless = nobodyReachesLeader ? false : await etcd.quorumLostEverywhere()
        if nobodyReachesLeader || leaderless {
            // No leader anyone reaches: no manager can move a placement, and this
            // host's storage heartbeat goes on, so nobody may start its VMs.
            // Stopping them would only lose them.
            if !holdingWithoutQuorum {
                holdingWithoutQuorum = true
                let why = nobodyReachesLeader ? "no host's storage heartbeat says it reaches etcd's leader"
                    : "a majority of etcd members answer without a leader"
                await events.record("hold", "etcd has no quorum (\(why)): \(settings.hostID) keeps its VMs running and HA decides nothing")
            }
            return
        }
        guard lease != nil, lastRenewal == last else { return }  // renewed meanwhile
        lease = nil
        await fence(because: "it could not renew its etcd lease for \(last.duration(to: now).secondsText) s")
    }

    private func pastFencePoint(_ lastRenewed: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Bool {
        SelfFence.mustFence(lastRenewed: lastRenewed, now: now, ttl: settings.ttl, margin: settings.fenceMargin)
    }

    /// A transaction's guard that this host's lease holds (its host key is bound to it).
    private var leaseHolds: EtcdClient.Compare { .present(keys.host(settings.hostID)) }

    /// Stops this host's HA VMs (they may be started elsewhere soon) and says so on the storage heartbeat.
    private func fence(because why: String) async {
        guard !fenced else { return }
        fenced = true
        let began = ContinuousClock.now
        let conn = try? host.connection()
        let facts = self.facts
        let stopped: [(String, String)] = (try? await host.executor.run { () -> [(String, String)] in
            guard let conn else { return [] }
            var stopped: [(String, String)] = []
            for vm in try facts.read(conn).values where vm.active && vm.isProtected {
                if (try? conn.domain(uuid: vm.uuid).destroy()) != nil { stopped.append((vm.uuid, vm.name)) }
            }
            return stopped
        }) ?? []
        for (uuid, name) in stopped { fencedVMs[uuid] = name }
        beat()
        let took = began.duration(to: .now).milliseconds
        let names = stopped.map(\.1).sorted().joined(separator: ", ")
        await events.record("fence", "\(settings.hostID) fenced itself because \(why): stopped \(stopped.isEmpty ? "no HA VM" : names) in \(took) ms")
    }

    // MARK: the storage heartbeat

    func beat(stopping: Bool = false) {
        seq += 1
        let failed = storage.write(.init(host: settings.hostID, seq: seq, fenced: fenced, fencedVMs: fencedVMs.keys.sorted(),
                                         agentStopped: stopping, reachesLeader: reachesLeader))
        if !failed.isEmpty { logger.warning("cluster: storage heartbeat not written on \(failed.joined(separator: ", "))") }
        beats.observe(storage.readAll(), now: .now)
    }

    private var reachesLeader: Bool { lastLeaderContact.map { $0.duration(to: .now) < .milliseconds(1500) } ?? false }

    /// A beat says its host reached the leader in the 1.5 s before it was
    /// written, every 500 ms, read here every 200 ms: seen saying so more
    /// than this after this host's own last contact, it proves a leader that
    /// others reach and this host does not.
    static let evidenceDelay: Duration = .milliseconds(3000)

    /// No other host has reached etcd's leader since this one last did: an
    /// outage of etcd for everyone, not this host cut off. A beat that still
    /// said "reaching" just after this host's own last contact proves
    /// nothing: every host lost the leader at about the same time.
    private func noHostReachesLeader() -> Bool {
        let now = ContinuousClock.now
        beats.observe(storage.readAll(), now: now)
        guard !reachesLeader, let contact = lastLeaderContact else { return false }
        return !beats.lastReaching.contains { host, at in host != settings.hostID && at > contact + Self.evidenceDelay }
    }

    // MARK: what runs here, and what the manager placed here

    /// One sync; whether a failover may be under way (a host's lease went in
    /// the last minute: the manager may place VMs here any moment).
    @discardableResult
    func sync() async -> Bool {
        await syncOnce()
        let now = ContinuousClock.now
        return hostsGone.values.contains { $0.duration(to: now) < ClusterSettings.failoverWatch }
    }

    private func syncOnce() async {
        guard let lease, !fenced else { return }
        // A host that was frozen past its lease wakes up here as often as in
        // the watchdog: it must not act (adopt, place) on a lease that may be gone.
        guard let last = lastRenewal, !pastFencePoint(last, now: .now) else { return }
        do {
            let conn = try host.connection()
            let facts = self.facts
            let local = try await host.executor.run { try facts.read(conn) }
            let view = ClusterView(try await etcd.list(prefix: keys.root), keys: keys)
            lastLeaderContact = .now
            noteHosts(view)
            await events.flush()
            try await publishHost(local, conn: conn, lease: lease)
            try await claimAndDescribe(local, view)
            let started = try await startPlaced(local, view, conn: conn, lease: lease)
            // `local` was read before those starts defined their VMs: not deleted ones, and their
            // statuses (running, or the failure in startStatus) are published with the rest.
            let afterStarts = local.merging(started) { _, new in new }
            try await cleanUpDeleted(afterStarts, view)
            try await publishStatuses(afterStarts, view, lease: lease)
        } catch {
            logger.debug("cluster: sync failed: \(error)")
        }
    }

    private func noteHosts(_ view: ClusterView) {
        let now = ContinuousClock.now
        hostsKnown.formUnion(view.hosts.keys)
        for id in hostsKnown {
            if view.hosts[id] != nil { hostsGone[id] = nil } else if hostsGone[id] == nil { hostsGone[id] = now }
        }
    }

    private func publishHost(_ local: [String: LocalVMFacts.VM], conn: Connection, lease: Int64) async throws {
        let known = hostUUID
        let (node, uuid) = try await host.executor.run { (try conn.nodeInfo, known ?? (try? conn.hostUUID)) }
        hostUUID = uuid
        let memory = settings.memoryMiB ?? Int(node.memoryKiB / 1024)
        let running = local.values.filter(\.active)
        let used = running.reduce(0) { $0 + $1.memoryMiB }
        let record = HostRecord(id: settings.hostID, uri: host.uri, hostUUID: uuid, memoryMiB: memory, freeMemoryMiB: max(0, memory - used),
                                cpus: node.cpus, freeCPUs: node.cpus - running.reduce(0) { $0 + $1.vcpus }, maintenance: FileManager.default.fileExists(atPath: maintenanceMark),
                                version: VigilVersion.current, sharedStorage: storage.directories)
        guard record != publishedHost else { return }
        try await etcd.put(keys.host(settings.hostID), try JSONEncoder.cluster.encode(record), lease: lease)
        publishedHost = record
    }

    /// Places this host's running HA VMs that have no placement yet, takes
    /// over VMs that run here but are placed elsewhere (they came by a
    /// migration: their old host no longer reports them), and keeps each
    /// VM's definition and wanted state current in etcd.
    private func claimAndDescribe(_ local: [String: LocalVMFacts.VM], _ view: ClusterView) async throws {
        let mine = leaseHolds  // every write below also needs this host's lease to hold
        for vm in local.values where vm.isProtected {
            let me = settings.hostID
            guard let placement = view.placements[vm.uuid] else {
                guard vm.active else { continue }
                let placed = try await etcd.transaction([.absent(keys.placement(vm.uuid)), mine], then: [
                    .put(keys.placement(vm.uuid), try JSONEncoder.cluster.encode(PlacementRecord(host: me, by: me))),
                    .put(keys.vm(vm.uuid), try JSONEncoder.cluster.encode(record(vm, wanted: "running"))),
                ])
                if placed { await events.record("protect", vm: (vm.uuid, vm.name), "\(vm.name) runs on \(me): protected by cluster HA (priority \(vm.priority.rawValue))") }
                continue
            }
            if placement.record.host == me {
                if vm.active {
                    handled[vm.uuid] = placement.revision
                    fencedVMs[vm.uuid] = nil
                    startStatus[vm.uuid] = nil
                }
                let previous = view.vms[vm.uuid]
                let wanted = vm.active || fencedVMs[vm.uuid] != nil || startStatus[vm.uuid] != nil ? "running"
                    : (handled[vm.uuid] == placement.revision ? "stopped" : previous?.wanted ?? "stopped")
                let r = record(vm, wanted: wanted)
                if r != previous {
                    try await etcd.transaction([.modRevision(keys.placement(vm.uuid), equals: placement.revision), mine],
                                               then: [.put(keys.vm(vm.uuid), try JSONEncoder.cluster.encode(r))])
                }
            } else if vm.active {
                let elsewhere = view.runningHost(of: vm.uuid)
                if elsewhere == nil {
                    let taken = try await etcd.transaction([.modRevision(keys.placement(vm.uuid), equals: placement.revision), mine], then: [
                        .put(keys.placement(vm.uuid), try JSONEncoder.cluster.encode(PlacementRecord(host: me, by: me))),
                        .put(keys.vm(vm.uuid), try JSONEncoder.cluster.encode(record(vm, wanted: "running"))),
                    ])
                    if taken { await events.record("adopt", vm: (vm.uuid, vm.name), "\(vm.name) runs on \(me) now (it was placed on \(placement.record.host)): placement moved here") }
                } else if let other = elsewhere, other != me, !conflicts.contains(vm.uuid) {
                    conflicts.insert(vm.uuid)
                    await events.record("conflict", vm: (vm.uuid, vm.name), "\(vm.name) runs on \(me) and \(other) reports it too: left alone, check its disks' leases")
                }
            }
        }
    }

    private func record(_ vm: LocalVMFacts.VM, wanted: String) -> VMRecord {
        VMRecord(uuid: vm.uuid, name: vm.name, xml: vm.xml, ha: vm.ha, priority: vm.priority, memoryMiB: vm.memoryMiB,
                 vcpus: vm.vcpus, wanted: wanted, onSharedStorage: vm.onSharedStorage)
    }

    /// Starts each VM the manager placed here, if its placement still holds
    /// the revision it was placed at when the start begins (the fencing
    /// token, checked by etcd in the same transaction that says "starting").
    /// Returns the VMs it defined, as `local` would now show them; their
    /// statuses are written by `publishStatuses` (a failure from `startStatus`).
    private func startPlaced(_ local: [String: LocalVMFacts.VM], _ view: ClusterView, conn: Connection,
                             lease: Int64) async throws -> [String: LocalVMFacts.VM] {
        let me = settings.hostID
        var defined: [String: LocalVMFacts.VM] = [:]
        for (uuid, placement) in view.placements where placement.record.host == me && handled[uuid] != placement.revision {
            guard let vm = view.vms[uuid], vm.wanted == "running" else { continue }
            if local[uuid]?.active == true { handled[uuid] = placement.revision; continue }
            let starting = VMStatusRecord(state: .starting, detail: "placed by \(placement.record.by)")
            let mine = try await etcd.transaction([.modRevision(keys.placement(uuid), equals: placement.revision)],
                                                  then: [.put(keys.status(me, uuid), try JSONEncoder.cluster.encode(starting), lease: lease)])
            guard mine else { continue }
            handled[uuid] = placement.revision
            startStatus[uuid] = starting
            let began = ContinuousClock.now
            let facts = self.facts, executor = host.executor, xml = vm.xml
            let result: Result<Void, any Error>
            do {
                try await executor.run {
                    // The definition travels with the VM: policy and settings are in its metadata.
                    let dom = try conn.define(xml: xml)
                    facts.invalidate(uuid)
                    try dom.create()
                }
                result = .success(())
            } catch {
                result = .failure(error)
            }
            let took = began.duration(to: .now).milliseconds
            defined[uuid] = LocalVMFacts.VM(uuid: uuid, name: vm.name, active: (try? result.get()) != nil, memoryMiB: vm.memoryMiB,
                                            vcpus: vm.vcpus ?? 1, ha: vm.ha, priority: vm.priority, onSharedStorage: vm.onSharedStorage, xml: vm.xml)
            switch result {
            case .success:
                startStatus[uuid] = nil
                fencedVMs[uuid] = nil
                await events.record("started", vm: (uuid, vm.name), "\(vm.name) started on \(me) in \(took) ms (placed by \(placement.record.by))")
            case .failure(let error):
                startStatus[uuid] = VMStatusRecord(state: .failed, detail: "\(error)")
                await events.record("start-failed", vm: (uuid, vm.name), "\(vm.name) did not start on \(me): \(error)")
            }
        }
        return defined
    }

    /// A VM placed here that this host ran and that is no longer defined was
    /// deleted by its administrator: it leaves HA (else the manager would
    /// start it again elsewhere).
    private func cleanUpDeleted(_ local: [String: LocalVMFacts.VM], _ view: ClusterView) async throws {
        for (uuid, placement) in view.placements
        where placement.record.host == settings.hostID && local[uuid] == nil && handled[uuid] == placement.revision && startStatus[uuid] == nil {
            // Missing from the facts may also be a definition libvirt could not read just now: only "no such domain" is a deletion.
            let conn = try host.connection()
            let undefined = try await host.executor.run { () -> Bool in
                do { _ = try conn.domain(uuid: uuid); return false } catch let e as LibvirtError { return e.code == .noDomain } catch { return false }
            }
            guard undefined else { continue }
            let gone = try await etcd.transaction([.modRevision(keys.placement(uuid), equals: placement.revision), leaseHolds],
                                                  then: [.delete(keys.placement(uuid)), .delete(keys.vm(uuid))])
            if gone {
                handled[uuid] = nil
                await events.record("unprotect", vm: (uuid, view.vms[uuid]?.name ?? uuid), "\(view.vms[uuid]?.name ?? uuid) was deleted on \(settings.hostID): it leaves cluster HA")
            }
        }
    }

    private func publishStatuses(_ local: [String: LocalVMFacts.VM], _ view: ClusterView, lease: Int64) async throws {
        let me = settings.hostID
        var want: [String: VMStatusRecord] = [:]
        for vm in local.values where vm.active && vm.isProtected { want[vm.uuid] = VMStatusRecord(state: .running) }
        for (uuid, status) in startStatus where want[uuid] == nil { want[uuid] = status }
        for uuid in fencedVMs.keys where want[uuid] == nil && view.placements[uuid]?.record.host == me {
            want[uuid] = VMStatusRecord(state: .fenced, detail: "stopped when \(me) fenced itself")
        }
        let current = view.statuses[me] ?? [:]
        for (uuid, status) in want where current[uuid] != status {
            try await etcd.put(keys.status(me, uuid), try JSONEncoder.cluster.encode(status), lease: lease)
        }
        for uuid in current.keys where want[uuid] == nil { try await etcd.delete(keys.status(me, uuid)) }
    }
}

extension ClusterMember: Service {
    /// The lease, the watchdog, the storage heartbeat and the sync, each on its own beat.
    nonisolated func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await Self.every(ClusterSettings.loop) { await self.renew() } }
                group.addTask { await Self.every(.milliseconds(200)) { await self.checkFence() } }
                group.addTask { await Self.every(.milliseconds(500)) { await self.beat() } }
                group.addTask { await Self.every(ClusterSettings.loop, sooner: ClusterSettings.failoverLoop) { await self.sync() } }
                await group.waitForAll()
            }
        }
        // A clean stop (an upgrade, a restart) leaves the VMs running: the
        // storage heartbeat says so, and the manager leaves them alone as it
        // would on an isolated host, until this host's vigild is back.
        await beat(stopping: true)
        if let lease = await currentLease { try? await etcd.revoke(lease) }
    }

    static func every(_ period: Duration, _ body: @Sendable () async -> Void) async {
        await every(period, sooner: period) { await body(); return false }
    }

    /// Every `period`, or every `sooner` after a pass that returned true.
    static func every(_ period: Duration, sooner: Duration, _ body: @Sendable () async -> Bool) async {
        while !Task.isCancelled {
            let began = ContinuousClock.now
            let hurry = await body()
            let rest = (hurry ? sooner : period) - began.duration(to: .now)
            try? await Task.sleep(for: rest > .zero ? rest : .milliseconds(10))
        }
    }
}
