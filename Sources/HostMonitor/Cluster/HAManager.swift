import Foundation
import Logging
import ServiceLifecycle

/// The elected manager (one per cluster, by an etcd key bound to its host's
/// lease): each second it reads the whole cluster, lets `HAPlanner` decide,
/// and moves placements in transactions that also check it is still the
/// manager and the placement is still at the revision it decided on. It
/// never starts a VM itself: the host a VM is placed on does, with that
/// placement's token. What it needs to continue after its own death
/// (retries) is in etcd, so a newly elected manager picks it up.
actor HAManager {
    private let etcd: EtcdClient
    private let keys: ClusterKeys
    private let settings: ClusterSettings
    private let storage: StorageHeartbeat
    private let member: ClusterMember
    private let events: ClusterEventLog
    private let logger: Logger

    private var isManager = false
    private var watch = StorageBeatWatch()
    /// When this manager first saw each host without its lease.
    private var expiredSince: [String: ContinuousClock.Instant] = [:]
    private var health: [String: HAPlanner.Health] = [:]
    private var lastHold: String?
    private var passes = 0

    init(etcd: EtcdClient, keys: ClusterKeys, settings: ClusterSettings, storage: StorageHeartbeat,
         member: ClusterMember, events: ClusterEventLog, logger: Logger) {
        self.etcd = etcd
        self.keys = keys
        self.settings = settings
        self.storage = storage
        self.member = member
        self.events = events
        self.logger = logger
    }

    var managing: Bool { isManager }

    /// One pass; whether a failover is under way (starts placed, or VMs
    /// still being brought back): the next pass then comes sooner.
    @discardableResult
    func pass() async -> Bool {
        guard let lease = await member.currentLease, await !member.isFenced else { isManager = false; return false }
        let me = settings.hostID
        do {
            var view = ClusterView(try await etcd.list(prefix: keys.root), keys: keys)
            if view.manager == nil {
                let won = try await etcd.transaction([.absent(keys.manager)], then: [.put(keys.manager, Data(me.utf8), lease: lease)])
                if won {
                    view = ClusterView(try await etcd.list(prefix: keys.root), keys: keys)
                    await events.record("elected", "\(me) is the HA manager")
                }
            }
            guard view.manager == me else { isManager = false; return false }
            if !isManager {
                // A new term continues from what this host watched as a member; a host
                // it never saw lose its lease has its expiry counted from now.
                isManager = true
                let seen = await member.observations
                expiredSince = seen.goneSince
                watch = seen.beats
                health = [:]
            }
            let busy = try await decide(view, now: .now)
            passes += 1
            if passes % 30 == 0 { await events.trim(view) }
            return busy
        } catch {
            if isManager, lastHold != "etcd" {
                lastHold = "etcd"
                logger.warning("cluster: the manager cannot read etcd (\(error)): no HA decision until it can")
            }
            return false
        }
    }

    /// Whether a failover is under way after this decision.
    private func decide(_ view: ClusterView, now: ContinuousClock.Instant) async throws -> Bool {
        let me = settings.hostID
        watch.observe(storage.readAll(), now: now)
        let config = HAPlanner.Config(enabled: view.config.enabled, minLiveHosts: view.config.minHosts,
                                      failoverHosts: Set(view.config.failoverHosts))
        let hosts = plannerHosts(view, now: now)
        await reportHealth(hosts, now: now, config: config)
        let vms = plannerVMs(view)
        let progress = Self.progress(view.progress, now: now)
        let (actions, next) = HAPlanner.plan(hosts: hosts, vms: vms, progress: progress, quorum: true, now: now, config: config)
        for action in actions {
            switch action {
            case .start(let uuid, let target, let revision):
                guard let vm = view.vms[uuid] else { continue }
                let from = view.placements[uuid]?.record.host ?? "(none)"
                let guardPlacement: EtcdClient.Compare = revision == 0 ? .absent(keys.placement(uuid)) : .modRevision(keys.placement(uuid), equals: revision)
                let placed = try await etcd.transaction([guardPlacement, .value(keys.manager, equals: Data(me.utf8))], then: [
                    .put(keys.placement(uuid), try JSONEncoder.cluster.encode(PlacementRecord(host: target, by: "manager \(me)"))),
                ])
                if placed {
                    let attempt = next.attempts[uuid]?.count ?? 1
                    await events.record("place", vm: (uuid, vm.name),
                                        "failover: \(vm.name) (priority \(vm.priority.rawValue), \(vm.memoryMiB) MiB) placed on \(target), from \(from) (\(health[from].map { "\($0)" } ?? "gone")); attempt \(attempt)")
                }
            case .giveUp(let name, let reason):
                await events.record("give-up", "\(name): HA gives up: \(reason)")
            case .hold(let reason):
                if reason != lastHold { await events.record("hold", reason) }
                lastHold = reason
            }
        }
        if !actions.contains(where: { if case .hold = $0 { return true } else { return false } }) { lastHold = nil }
        let record = Self.record(next, now: now)
        if record != view.progress {
            try await etcd.transaction([.value(keys.manager, equals: Data(me.utf8))],
                                       then: [.put(keys.progress, try JSONEncoder.cluster.encode(record))])
        }
        return actions.contains { if case .start = $0 { return true } else { return false } }
            || next.attempts.keys.contains { !next.givenUp.contains($0) }
    }

    /// Every host the cluster knows of, as the planner sees it.
    private func plannerHosts(_ view: ClusterView, now: ContinuousClock.Instant) -> [HAPlanner.Host] {
        var ids = Set(view.hosts.keys).union(view.placements.values.map(\.record.host)).union(watch.seen.keys)
        ids.formUnion(expiredSince.keys)
        return ids.sorted().map { id in
            let record = view.hosts[id]
            if record != nil { expiredSince[id] = nil } else if expiredSince[id] == nil { expiredSince[id] = now }
            let beat = watch.beat(id)
            // A vigild that stopped cleanly left its VMs running: as good as a beating, isolated host.
            let storageBeat = beat.map { $0.agentStopped && !$0.fenced } == true ? now : watch.lastMoved(id)
            return HAPlanner.Host(id: id, leaseAlive: record != nil, leaseExpired: expiredSince[id], storageBeat: storageBeat,
                                  fenced: record == nil && (beat?.fenced ?? false), maintenance: record?.maintenance ?? false,
                                  memoryMiB: record?.memoryMiB ?? 0, freeMemoryMiB: record?.freeMemoryMiB ?? 0)
        }
    }

    private func plannerVMs(_ view: ClusterView) -> [HAPlanner.VM] {
        view.vms.values.map { vm in
            let placement = view.placements[vm.uuid]
            let runningOn = view.runningHost(of: vm.uuid)
            let owner = runningOn ?? placement?.record.host
            let status = owner.flatMap { view.statuses[$0]?[vm.uuid] }
            let fencedThere = owner.flatMap { watch.beat($0) }.map { $0.fenced && $0.fencedVMs.contains(vm.uuid) } ?? false
            // The planner places a higher priority first: Core's rank negated (high is rank 0).
            return HAPlanner.VM(uuid: vm.uuid, name: vm.name, ha: vm.ha && vm.onSharedStorage && vm.wanted == "running",
                                priority: -vm.priority.rank, memoryMiB: vm.memoryMiB, owner: owner,
                                // Starting is not running yet: a lower priority waits for it.
                                revision: placement?.revision ?? 0, running: runningOn.flatMap { view.statuses[$0]?[vm.uuid]?.state } == .running,
                                stopped: status.map { $0.state == .failed || $0.state == .fenced } ?? fencedThere)
        }
    }

    /// Each change of a host's health, once, in the cluster's log.
    private func reportHealth(_ hosts: [HAPlanner.Host], now: ContinuousClock.Instant, config: HAPlanner.Config) async {
        for h in hosts {
            let state = HAPlanner.health(h, now: now, config)
            guard health[h.id] != state else { continue }
            let before = health[h.id]
            health[h.id] = state
            let since = h.leaseExpired.map { " (lease gone \($0.duration(to: now).secondsText) s ago)" } ?? ""
            switch state {
            case .alive: if before != nil { await events.record("host", "\(h.id) is alive") }
            case .pending:
                // A host first seen without a lease (its record not yet written) is no news.
                if before != nil { await events.record("host", "\(h.id) lost its lease: waiting \(config.fenceGrace.secondsText) s for it to fence itself") }
            case .isolated: await events.record("host", "\(h.id) is isolated\(since): its storage heartbeat goes on, so its VMs are left to it")
            case .dead: await events.record("host", "\(h.id) is \(h.fenced ? "fenced" : "dead")\(since): its HA VMs are restarted elsewhere")
            }
        }
    }

    static func progress(_ r: HAProgressRecord, now: ContinuousClock.Instant) -> HAPlanner.Progress {
        let wall = Date()
        var p = HAPlanner.Progress()
        for (uuid, a) in r.attempts {
            let ago = max(0, wall.timeIntervalSince(a.at))
            p.attempts[uuid] = .init(count: a.count, last: now - .milliseconds(Int64(ago * 1000)), host: a.host, tried: Set(a.tried))
        }
        p.givenUp = Set(r.givenUp)
        return p
    }

    static func record(_ p: HAPlanner.Progress, now: ContinuousClock.Instant) -> HAProgressRecord {
        let wall = Date()
        var r = HAProgressRecord()
        for (uuid, a) in p.attempts {
            let ago = a.last.duration(to: now)
            // Whole milliseconds, so an unchanged attempt is an unchanged record.
            let at = wall.addingTimeInterval(-Double(ago.milliseconds) / 1000)
            r.attempts[uuid] = .init(count: a.count, at: Date(timeIntervalSince1970: (at.timeIntervalSince1970).rounded()), host: a.host, tried: a.tried.sorted())
        }
        r.givenUp = p.givenUp.sorted()
        return r
    }
}

extension HAManager: Service {
    nonisolated func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await ClusterMember.every(ClusterSettings.loop, sooner: ClusterSettings.failoverLoop) { await self.pass() }
        }
    }
}
