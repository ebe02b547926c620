import Foundation

/// The cluster manager's decisions, apart from doing them (issue 13's
/// engine, pure: the etcd view, host facts and a clock in; actions out), so
/// every scenario is run exhaustively in the simulator of the tests before
/// any real host dies.
///
/// Safety comes first: a VM is started elsewhere only once its host is
/// known dead (lease expired and its storage heartbeat stopped) or has said
/// on its storage heartbeat that it fenced itself; an isolated host (lease
/// lost, storage heartbeat going on) is left to its own isolation response.
/// Each start carries the placement revision it was decided on, so a start
/// decided on stale state fails in etcd's transaction (the fencing token).
enum HAPlanner {
    struct Config: Sendable, Equatable {
        var enabled = true
        /// HA acts only while at least this many hosts are live.
        var minLiveHosts = 1
        /// Hosts kept for failover: used first when a VM restarts.
        var failoverHosts: Set<String> = []
        /// How long after a host's lease expired before its state is judged
        /// (its self-fence must have happened by then: Patroni's rule).
        var fenceGrace: Duration = .seconds(2)
        /// A storage heartbeat older than this has stopped.
        var storageTimeout: Duration = .seconds(5)
        var maxAttempts = 3
        var retryAfter: Duration = .seconds(10)
        /// A VM given up on is tried afresh after this long, or as soon as a
        /// live host it was not tried on appears (a host that came back: the
        /// disk leases a frozen host held may be free now).
        var retryGivenUpAfter: Duration = .seconds(300)
    }

    struct Host: Sendable, Equatable {
        var id: String
        var leaseAlive: Bool
        /// When its lease expired (nil while alive).
        var leaseExpired: ContinuousClock.Instant?
        /// Its last storage heartbeat, and whether that heartbeat says it fenced itself.
        var storageBeat: ContinuousClock.Instant?
        var fenced: Bool = false
        var maintenance: Bool = false
        var memoryMiB: Int
        var freeMemoryMiB: Int
    }

    enum Health: Equatable, Sendable { case alive, pending, isolated, dead }

    struct VM: Sendable, Equatable {
        var uuid: String
        var name: String
        var ha: Bool
        /// Higher first.
        var priority: Int
        var memoryMiB: Int
        /// The host holding its placement (etcd), and that key's revision (the fencing token).
        var owner: String?
        var revision: Int64
        /// Its owner reports it running.
        var running: Bool
        /// Its owner reports it neither running nor starting (a start that
        /// failed, a VM it fenced): another start may be tried.
        var stopped = false
    }

    /// What the manager remembers between passes (kept in etcd, so a new manager continues).
    struct Progress: Sendable, Equatable {
        struct Attempt: Sendable, Equatable {
            var count: Int
            var last: ContinuousClock.Instant
            var host: String
            var tried: Set<String>
        }
        var attempts: [String: Attempt] = [:]
        var givenUp: Set<String> = []
    }

    enum Action: Sendable, Equatable {
        /// Start `vm` on `host` if its placement is still at `revision`.
        case start(vm: String, host: String, revision: Int64)
        case giveUp(vm: String, reason: String)
        /// Nothing is decided: why.
        case hold(String)
    }

    static func health(_ h: Host, now: ContinuousClock.Instant, _ c: Config) -> Health {
        if h.leaseAlive { return .alive }
        guard let expired = h.leaseExpired, expired.duration(to: now) >= c.fenceGrace else { return .pending }
        if h.fenced { return .dead }
        if let beat = h.storageBeat, beat.duration(to: now) < c.storageTimeout { return .isolated }
        return .dead
    }

    static func plan(hosts: [Host], vms: [VM], progress: Progress, quorum: Bool, now: ContinuousClock.Instant,
                     config c: Config) -> (actions: [Action], progress: Progress) {
        guard quorum else { return ([.hold("etcd has no quorum: no VM is started or stopped on stale state")], progress) }
        guard c.enabled else { return ([], progress) }
        var p = progress
        let health = Dictionary(uniqueKeysWithValues: hosts.map { ($0.id, Self.health($0, now: now, c)) })
        let live = hosts.filter { health[$0.id] == .alive && !$0.maintenance }
        // Running again somewhere live: nothing more to do for it.
        for vm in vms where vm.running && vm.owner.map({ health[$0] == .alive }) == true {
            p.attempts[vm.uuid] = nil
            p.givenUp.remove(vm.uuid)
        }
        // Given up long enough ago, or a live host it was never tried on: a fresh series of starts.
        for uuid in p.givenUp {
            guard let a = p.attempts[uuid] else { p.givenUp.remove(uuid); continue }
            if a.last.duration(to: now) >= c.retryGivenUpAfter || live.contains(where: { !a.tried.contains($0.id) }) {
                p.givenUp.remove(uuid)
                p.attempts[uuid] = nil
            }
        }
        // Down: an HA VM (its wanted state is running) that does not run on a live host: its
        // owner is dead, or alive without it (it fenced it while cut off), or it is being recovered.
        // An owner still pending or isolated is waited for: it may still run it.
        let down = vms.filter { vm in
            let ownerHealth = vm.owner.flatMap { health[$0] }
            let runningLive = vm.running && ownerHealth == .alive
            return vm.ha && !p.givenUp.contains(vm.uuid) && !runningLive
                && (ownerHealth == nil || ownerHealth == .dead || ownerHealth == .alive || p.attempts[vm.uuid] != nil)
        }.sorted { ($0.priority, $1.name) > ($1.priority, $0.name) }
        guard !down.isEmpty else { return ([], p) }
        guard live.count >= c.minLiveHosts else {
            return ([.hold("only \(live.count) live host(s), fewer than the \(c.minLiveHosts) HA needs to act")], p)
        }
        var free = Dictionary(uniqueKeysWithValues: live.map { ($0.id, $0.freeMemoryMiB) })
        var actions: [Action] = []
        // Priorities in order: a lower one waits until every higher one is running.
        let top = down.map(\.priority).max() ?? 0
        for vm in down where vm.priority == top {
            if let a = p.attempts[vm.uuid] {
                // Another host may try only once the last one gave up on it (or died): never two starts at once.
                let lastHealth = health[a.host]
                let lastGaveUp = vm.owner == a.host && vm.stopped && !vm.running
                guard lastHealth == .dead || (lastGaveUp && a.last.duration(to: now) >= c.retryAfter) else { continue }
                if a.count >= c.maxAttempts {
                    p.givenUp.insert(vm.uuid)
                    actions.append(.giveUp(vm: vm.name, reason: "not running after \(a.count) start(s) on \(a.tried.sorted().joined(separator: ", "))"))
                    continue
                }
            }
            // The reserve of admission control is what failover may use: only the host's own room counts.
            // Hosts not tried yet first; once every live host was tried, any of them again.
            let tried = p.attempts[vm.uuid]?.tried ?? []
            let fitting = live.filter { (free[$0.id] ?? 0) >= vm.memoryMiB }
            let untried = fitting.filter { !tried.contains($0.id) }
            guard let host = (untried.isEmpty ? fitting : untried).max(by: { a, b in
                (c.failoverHosts.contains(a.id) ? 1 : 0, free[a.id] ?? 0, b.id) < (c.failoverHosts.contains(b.id) ? 1 : 0, free[b.id] ?? 0, a.id)
            }) else {
                actions.append(.hold("no live host has the \(vm.memoryMiB) MiB \(vm.name) needs free"))
                continue
            }
            free[host.id, default: 0] -= vm.memoryMiB
            p.attempts[vm.uuid] = .init(count: (p.attempts[vm.uuid]?.count ?? 0) + 1, last: now, host: host.id, tried: tried.union([host.id]))
            actions.append(.start(vm: vm.uuid, host: host.id, revision: vm.revision))
        }
        return (actions, p)
    }
}

/// A host's own side of the lease: when it must stop its HA VMs because it
/// could not renew its lease, so that it has stopped them before the lease
/// runs out and another host may start them (Patroni's rule: the renewal
/// loop plus two retries fit in the TTL, and fencing starts a margin before
/// the end).
enum SelfFence {
    /// `etcdWithoutQuorum`: members answer but have no leader. Then no
    /// lease can expire (a new leader extends them all) and nobody can move a
    /// placement, so stopping VMs would only lose them: the host holds on.
    static func mustFence(lastRenewed: ContinuousClock.Instant, now: ContinuousClock.Instant, ttl: Duration, margin: Duration,
                          etcdWithoutQuorum: Bool = false) -> Bool {
        !etcdWithoutQuorum && lastRenewed.duration(to: now) >= ttl - margin
    }

    /// Whether `loop` and `retry` (the renewal period and one retry's timeout) are safe for `ttl`.
    static func timingIsSafe(loop: Duration, retry: Duration, ttl: Duration, margin: Duration) -> Bool {
        loop + retry * 2 + margin <= ttl
    }
}
