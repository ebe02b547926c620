import Core
import Foundation
@testable import HostMonitor
import Testing

/// The HA engine (`HAPlanner`, `SelfFence`) run as the cluster would run it,
/// over a simulated clock, in the manner of pve-ha-manager's tests: hosts
/// that renew leases, write storage heartbeats, fence themselves and start
/// what the manager decides; scenarios that power hosts off, cut their
/// network or storage, kill the manager, lose etcd's quorum, flap. After
/// every step an invariant checker fails the scenario if a VM runs on two
/// hosts, and at the end if an HA VM stayed down while capacity existed.
@Suite struct HASimulatorTests {
    final class Cluster {
        struct SimHost {
            var id: String
            var up = true           // powered and its processes running
            var network = true      // reaches etcd
            var storage = true      // writes its storage heartbeat
            var lastRenewed: ContinuousClock.Instant
            var lastBeat: ContinuousClock.Instant?
            var fenced = false
            var memoryMiB = 4096
            /// What it last published in etcd: the VMs it runs (a dead or cut-off host's report goes stale).
            var reported: Set<String> = []
        }
        struct SimVM {
            var uuid: String
            var ha: Bool
            var priority: Int
            var memoryMiB: Int
            var runningOn: Set<String> = []  // the truth: where QEMU runs
            var owner: String?               // etcd's placement
            var revision: Int64 = 1
            var startFailed = false
        }

        var now = ContinuousClock.now
        var hosts: [String: SimHost] = [:]
        var vms: [String: SimVM] = [:]
        var progress = HAPlanner.Progress()
        var quorum = true
        var manager: String? = "h2"
        var log: [String] = []
        var startedAt: [String: [ContinuousClock.Instant]] = [:]
        let ttl: Duration = .seconds(6), margin: Duration = .seconds(2), step: Duration = .milliseconds(500)
        var config = HAPlanner.Config(fenceGrace: .seconds(1), storageTimeout: .seconds(3), retryAfter: .seconds(5))
        /// A host that refuses to start VMs (its start fails).
        var broken: Set<String> = []

        init(hosts ids: [String], vms list: [(String, Bool, Int, Int, String)]) {
            for id in ids { hosts[id] = SimHost(id: id, lastRenewed: now) }
            for (uuid, ha, priority, mem, host) in list {
                vms[uuid] = SimVM(uuid: uuid, ha: ha, priority: priority, memoryMiB: mem, runningOn: [host], owner: host)
                hosts[host]?.reported.insert(uuid)
            }
        }

        func leaseAlive(_ h: SimHost) -> Bool { h.lastRenewed.duration(to: now) < ttl }

        func tick() {
            now += step
            // Without a leader etcd expires no lease (a new one extends them all): remaining TTLs stand still.
            if !quorum { for id in hosts.keys { hosts[id]?.lastRenewed += step } }
            for id in hosts.keys.sorted() {
                guard var h = hosts[id], h.up else { continue }
                if h.network && quorum { h.lastRenewed = now; h.fenced = false }
                // Cannot renew: stop the HA VMs before the lease runs out for the others.
                if !h.fenced, SelfFence.mustFence(lastRenewed: h.lastRenewed, now: now, ttl: ttl, margin: margin,
                                                  etcdWithoutQuorum: h.network && !quorum) {
                    for (uuid, vm) in vms where vm.ha && vm.runningOn.contains(id) {
                        vms[uuid]?.runningOn.remove(id)
                        log.append("\(id) fenced \(uuid)")
                    }
                    h.fenced = true
                }
                if h.storage { h.lastBeat = now }
                if h.network && quorum { h.reported = Set(vms.values.filter { $0.runningOn.contains(id) }.map(\.uuid)) }
                hosts[id] = h
            }
            guard let m = manager, let mh = hosts[m], mh.up, mh.network else {
                // No manager: the live hosts elect one (etcd election).
                manager = hosts.values.filter { $0.up && $0.network && leaseAlive($0) }.map(\.id).sorted().first
                return
            }
            let view = hosts.values.map { h in
                HAPlanner.Host(id: h.id, leaseAlive: leaseAlive(h), leaseExpired: leaseAlive(h) ? nil : h.lastRenewed + ttl,
                               storageBeat: h.lastBeat, fenced: h.fenced && h.storage, memoryMiB: h.memoryMiB,
                               freeMemoryMiB: h.memoryMiB - vms.values.filter { $0.runningOn.contains(h.id) }.reduce(0) { $0 + $1.memoryMiB })
            }
            let vmView = vms.values.map { v in
                // What etcd says the owner reported: only a live owner reports.
                let owner = v.owner.flatMap { hosts[$0] }
                // A live owner's report is fresh: not in it means stopped (a failed start, a fence).
                let fresh = owner.map(leaseAlive) ?? false
                return HAPlanner.VM(uuid: v.uuid, name: v.uuid, ha: v.ha, priority: v.priority, memoryMiB: v.memoryMiB, owner: v.owner,
                                    revision: v.revision, running: owner?.reported.contains(v.uuid) ?? false,
                                    stopped: fresh && !(owner?.reported.contains(v.uuid) ?? false))
            }
            let (actions, next) = HAPlanner.plan(hosts: view, vms: vmView, progress: progress, quorum: quorum, now: now, config: config)
            progress = next  // kept in etcd: a new manager continues from it
            for a in actions {
                switch a {
                case .start(let uuid, let host, let revision):
                    guard var vm = vms[uuid], vm.revision == revision else { log.append("stale start of \(uuid) refused"); continue }
                    // The fencing token: the placement moves in one transaction, then the host starts it.
                    vm.owner = host
                    vm.revision += 1
                    vm.startFailed = false
                    // A host starts what etcd places on it only while it reaches etcd and holds its lease.
                    if let h = hosts[host], h.up, h.network, leaseAlive(h), !broken.contains(host) {
                        vm.runningOn.insert(host)
                        // Its "starting" status, written under its lease in the start's own transaction:
                        // reported even if the host is cut off right after.
                        hosts[host]?.reported.insert(uuid)
                        startedAt[uuid, default: []].append(now)
                        log.append("started \(uuid) on \(host)")
                    } else {
                        vm.startFailed = true
                        log.append("start of \(uuid) on \(host) failed")
                    }
                    vms[uuid] = vm
                case .giveUp(let vm, let reason): log.append("gave up \(vm): \(reason)")
                case .hold(let why): if log.last != "hold: \(why)" { log.append("hold: \(why)") }
                }
            }
        }

        /// Steps the clock, checking after each step that no VM runs twice.
        func run(_ seconds: Double) {
            for _ in 0..<Int(seconds / 0.5) {
                tick()
                for vm in vms.values { #expect(vm.runningOn.count <= 1, "\(vm.uuid) runs on \(vm.runningOn.sorted()): \(log)") }
            }
        }

        func kill(_ id: String) {
            hosts[id]?.up = false
            hosts[id]?.storage = false
            for (uuid, vm) in vms where vm.runningOn.contains(id) { vms[uuid]?.runningOn.remove(id) }
        }

        func host(of uuid: String) -> String? { vms[uuid]?.runningOn.first }
    }

    static func threeHosts() -> Cluster {
        Cluster(hosts: ["h1", "h2", "h3"], vms: [("db", true, 2, 1024, "h1"), ("web", true, 1, 1024, "h1"),
                                                ("cache", true, 0, 512, "h1"), ("scratch", false, 0, 512, "h1"),
                                                ("other", true, 1, 1024, "h3")])
    }

    @Test func aPoweredOffHostsHAVMsRunElsewhereByPriorityAndNonHAOnesStayDown() {
        let c = Self.threeHosts()
        c.run(5)
        c.kill("h1")
        c.run(20)
        for vm in ["db", "web", "cache"] { #expect(c.host(of: vm) != nil && c.host(of: vm) != "h1", "\(vm): \(c.log)") }
        #expect(c.host(of: "scratch") == nil, "a VM without HA is left alone")
        #expect(c.host(of: "other") == "h3", "VMs of live hosts are untouched")
        // Priority order: db (2) before web (1) before cache (0).
        let db = c.startedAt["db"]?.first, web = c.startedAt["web"]?.first, cache = c.startedAt["cache"]?.first
        #expect(db != nil && web != nil && cache != nil && db! < web! && web! < cache!, "\(c.log)")
        // Not before the lease ran out and the grace passed.
        let killed = c.now - .seconds(20)
        #expect(db.map { killed.duration(to: $0) >= c.ttl } ?? false, "started \(String(describing: db.map { killed.duration(to: $0) })) after the kill")
        #expect(db.map { killed.duration(to: $0) <= .seconds(10) } ?? false, "within the lease, the grace and a few passes")
    }

    @Test func aPartitionedHostFencesItselfBeforeAnyoneElseStartsItsVMs() {
        let c = Self.threeHosts()
        c.run(5)
        c.hosts["h1"]?.network = false  // its storage heartbeat goes on: isolated, not dead
        c.run(30)
        let fenced = c.log.firstIndex { $0 == "h1 fenced db" }
        let started = c.log.firstIndex { $0.hasPrefix("started db on") }
        #expect(fenced != nil && started != nil && fenced! < started!, "fenced first: \(c.log)")
        #expect(c.host(of: "db") != "h1" && c.host(of: "db") != nil)
        #expect(c.host(of: "scratch") == "h1", "the isolation response stops HA VMs only")
    }

    @Test func aStorageCutAloneChangesNothingAndEtcdWithoutQuorumFreezesDecisions() {
        let c = Self.threeHosts()
        c.hosts["h1"]?.storage = false
        c.run(20)
        #expect(c.host(of: "db") == "h1" && !c.log.contains { $0.hasPrefix("started") }, "\(c.log)")
        c.quorum = false
        c.kill("h1")
        c.run(20)
        #expect(!c.log.contains { $0.hasPrefix("started") }, "nothing started on stale state: \(c.log)")
        #expect(c.log.contains { $0.contains("no quorum") })
        c.quorum = true
        c.run(20)
        #expect(c.host(of: "db") != nil && c.host(of: "web") != nil, "\(c.log)")
    }

    @Test func theManagersDeathMidFailoverStartsNothingTwice() {
        let c = Self.threeHosts()
        c.manager = "h3"
        c.run(5)
        c.kill("h1")
        // Until the first start, then the manager's host dies too.
        for _ in 0..<40 where !c.log.contains(where: { $0.hasPrefix("started") }) { c.run(0.5) }
        let first = c.log.first { $0.hasPrefix("started") }
        #expect(first != nil)
        if first?.hasSuffix("h3") == true { c.kill("h2") } else { c.kill("h3") }
        c.manager = nil
        c.run(30)
        for (vm, starts) in c.startedAt { #expect(starts.count == 1 || c.log.contains("start of \(vm)"), "\(vm) started \(starts.count)×: \(c.log)") }
        let survivor = ["h2", "h3"].first { c.hosts[$0]?.up == true }!
        #expect(c.host(of: "db") == survivor, "\(c.log)")
    }

    @Test func aFailedStartIsRetriedElsewhereAndThenGivenUp() {
        let c = Self.threeHosts()
        c.config.maxAttempts = 2
        c.run(5)
        c.broken = ["h2"]
        c.hosts["h3"]?.memoryMiB = 4096
        c.kill("h1")
        c.run(40)
        #expect(c.host(of: "db") == "h3" || c.log.contains { $0.hasPrefix("gave up db") }, "\(c.log)")
        #expect(c.log.contains { $0.hasPrefix("start of") && $0.hasSuffix("on h2 failed") } ? c.log.contains { $0.contains("on h3") } : true)
    }

    @Test func theMinimumOfLiveHostsHoldsFailover() {
        let d = Self.threeHosts()
        d.config.minLiveHosts = 3
        d.run(5)
        d.kill("h1")
        d.run(20)
        #expect(d.startedAt.isEmpty && d.log.contains { $0.contains("fewer than the 3") }, "\(d.log)")
    }

    /// A host that froze (SIGSTOP) still holds its VMs' disk leases: every start elsewhere fails
    /// until it thaws and fences itself. HA gives up after its attempts, and starts afresh once
    /// a host it did not try is live again, or after retryGivenUpAfter.
    @Test func aVMGivenUpOnIsTriedAgainWhenAHostComesBackOrLater() {
        let c = Self.threeHosts()
        c.config.maxAttempts = 3
        c.run(5)
        c.broken = ["h2", "h3"]
        c.hosts["h1"]?.up = false       // frozen: no lease, no storage heartbeat, its QEMU stopped with it
        c.hosts["h1"]?.storage = false
        for (uuid, vm) in c.vms where vm.runningOn.contains("h1") { c.vms[uuid]?.runningOn.remove("h1") }
        c.run(60)
        #expect(c.log.contains { $0.hasPrefix("gave up db") }, "\(c.log)")
        let tries = c.log.filter { $0.hasPrefix("start of db") }.count
        #expect(tries == 3, "three starts (both live hosts, then one again), then no more: \(c.log)")
        c.run(30)
        #expect(c.log.filter { $0.hasPrefix("start of db") }.count == tries, "no retry loop while nothing changed: \(c.log)")
        // It thaws: its leases are gone (it fenced), and the hosts can start VMs again.
        c.broken = []
        c.hosts["h1"]?.up = true
        c.hosts["h1"]?.storage = true
        c.run(30)
        for vm in ["db", "web", "cache"] { #expect(c.host(of: vm) != nil, "\(vm) back once h1 was live again: \(c.log)") }

        // Nothing comes back, but time passes: tried again after retryGivenUpAfter.
        let d = Self.threeHosts()
        d.config.retryGivenUpAfter = .seconds(60)
        d.run(5)
        d.broken = ["h2", "h3"]
        d.kill("h1")
        d.run(50)
        #expect(d.log.contains { $0.hasPrefix("gave up db") }, "\(d.log)")
        d.broken = []
        d.run(70)
        #expect(d.host(of: "db") != nil, "tried afresh a minute after giving up: \(d.log)")
    }

    /// The reserve of admission control is what failover uses: failover is limited by each host's room only.
    @Test func failoverMayUseTheReserveThatAdministratorsStartsMayNot() {
        let c = Self.threeHosts()
        c.run(5)
        c.kill("h1")
        c.run(20)
        for vm in ["db", "web", "cache"] { #expect(c.host(of: vm) != nil, "\(vm): \(c.log)") }

        let a = Admission(reserveMemoryPercent: 50, reserveCPUPercent: 0)
        let pool = Admission.Pool(memoryMiB: 8192, freeMemoryMiB: 5000, cpus: 8, freeCPUs: -4)
        #expect(a.refusal(.init(memoryMiB: 512, vcpus: 16), from: pool) == nil, "no CPU reserve: vCPUs may be overcommitted")
        #expect(a.refusal(.init(memoryMiB: 1024, vcpus: 1), from: pool)?.contains("under the 50 % (4096 MiB) of memory") == true)
        let cpu = Admission(reserveMemoryPercent: 0, reserveCPUPercent: 25)
        let threads = Admission.Pool(memoryMiB: 8192, freeMemoryMiB: 8192, cpus: 8, freeCPUs: 4)
        #expect(cpu.refusal(.init(memoryMiB: 256, vcpus: 2), from: threads) == nil, "2 threads left, 2 kept")
        #expect(cpu.refusal(.init(memoryMiB: 256, vcpus: 3), from: threads)?.contains("1 CPU thread(s) unclaimed by vCPUs, under the 25 % (2)") == true)
        #expect(a.refusal(.init(memoryMiB: 9000, vcpus: 1), from: Admission.Pool(memoryMiB: 8192, freeMemoryMiB: 8192, cpus: 8, freeCPUs: 8)) != nil)
        #expect(Admission(ClusterHAConfig(enabled: false, reserveMemoryPercent: 50)) == Admission(), "HA off: no reserve")
    }

    @Test func flappingAndRandomInjectionsNeverRunAVMTwice() {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<200 {
            let c = Self.threeHosts()
            c.run(3)
            for _ in 0..<6 {
                let h = ["h1", "h2", "h3"].randomElement(using: &rng)!
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: c.hosts[h]?.network.toggle()
                case 1: c.hosts[h]?.storage.toggle()
                case 2: c.quorum.toggle()
                case 3: if c.hosts.values.filter(\.up).count > 1 { c.kill(h) }
                default: c.manager = nil
                }
                c.run(Double(Int.random(in: 1...12, using: &rng)))
            }
            // Heal everything that can heal: every HA VM whose host died must come back where capacity exists.
            for id in c.hosts.keys { c.hosts[id]?.network = true; c.hosts[id]?.storage = true }
            c.quorum = true
            c.run(40)
            let liveMemory = c.hosts.values.filter(\.up).reduce(0) { $0 + $1.memoryMiB }
            let haMemory = c.vms.values.filter(\.ha).reduce(0) { $0 + $1.memoryMiB }
            if liveMemory >= haMemory + 1024 {
                for vm in c.vms.values where vm.ha {
                    #expect(!vm.runningOn.isEmpty, "round \(round): HA VM \(vm.uuid) stayed down with capacity: \(c.log)")
                }
            }
        }
    }
}
