import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Cluster HA for real (issue 13): three `testbed/cluster` hosts, the rig's
/// 3-member etcd, a vigild inside each host, virtlockd disk leases on the
/// shared storage, and real guests with vigil-agent.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct ClusterHATests {
    struct Cluster {
        let shared: String
        let name: String
        let daemons: [Int: DaemonProcess]
        let dirs: [TemporaryDirectory]

        func status(via host: Int) throws -> ClusterStatus? {
            guard let d = daemons[host] else { return nil }
            let r = try d.vigil(["cluster", "status", "--json"])
            return try? JSONDecoder().decode(ClusterStatus.self, from: Data(r.stdout.utf8))
        }

        func events(via host: Int) throws -> [ClusterEvent] {
            guard let d = daemons[host] else { return [] }
            let r = try d.vigil(["cluster", "events", "--limit", "500", "--json"])
            return (try? JSONDecoder().decode(ClusterEventList.self, from: Data(r.stdout.utf8)).events) ?? []
        }

        func stop() {
            for d in daemons.values { _ = d.stop() }
            for d in dirs { d.remove() }
        }
    }

    /// vigild on hosts 1-3, one cluster name per test (so tests never see each
    /// other's keys); `first` starts alone and is the manager before the others join.
    static func cluster(first: Int? = nil, extraArguments: [String] = []) throws -> Cluster {
        let shared = try ClusterRig.up(3)
        let endpoints = try ClusterRig.run(["etcd"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let name = "t" + UUID().uuidString.prefix(8).lowercased()
        var daemons: [Int: DaemonProcess] = [:], dirs: [TemporaryDirectory] = []
        func start(_ i: Int) throws {
            let dir = try TemporaryDirectory("ha\(i)")
            dirs.append(dir)
            daemons[i] = try DaemonProcess(connect: "qemu:///system", directory: dir, extraArguments: [
                "--cluster-endpoints", endpoints, "--cluster-name", name, "--shared-storage", shared,
                // A 5 s heartbeat window: no test here is about a guest's hang, and etcd
                // members restarting on two busy cores must not look like one.
                "--default-heartbeat-interval", "0.5", "--default-misses", "10", "--default-min-uptime", "0",
            ] + extraArguments, namespaceCommand: ClusterRig.inside(i))
        }
        if let first {
            try start(first)
            let c = Cluster(shared: shared, name: name, daemons: daemons, dirs: dirs)
            let deadline = Date().addingTimeInterval(30)
            while (try? c.status(via: first))??.manager != "cvk\(first)" {
                guard Date() < deadline else { c.stop(); throw TestbedError("cvk\(first) was not elected manager") }
                usleep(200_000)
            }
        }
        for i in [1, 2, 3] where i != first { try start(i) }
        return Cluster(shared: shared, name: name, daemons: daemons, dirs: dirs)
    }

    /// Where a guest runs now, by asking each live host's libvirt from inside it.
    static func hostsRunning(_ name: String, among hosts: [Int]) -> [Int] {
        hosts.filter { i in
            let r = try? ProcessRunner.run(ClusterRig.inside(i) + ["virsh", "-q", "-c", "qemu:///system", "domstate", name], timeout: 20)
            return r?.status == 0 && r?.stdout.contains("running") == true
        }
    }

    static func removeEverywhere(_ guest: TestGuest, hosts: [Int]) {
        for i in hosts {
            _ = try? ProcessRunner.run(ClusterRig.inside(i) + ["sh", "-c",
                "virsh -q destroy \(guest.name); virsh -q undefine \(guest.name)"], timeout: 30)
        }
        guest.remove()
    }

    @Test func killedHostsHAVMsRunElsewhereByPriorityAndNonHAOnesStayDown() async throws {
        let c = try Self.cluster()
        defer { c.stop() }
        let host1 = try Connection(uri: ClusterRig.uri(1))
        let high = try TestGuest(on: host1, diskDirectory: c.shared, controlSocket: false)
        let low = try TestGuest(on: host1, diskDirectory: c.shared, controlSocket: false)
        let plain = try TestGuest(on: host1, diskDirectory: c.shared, controlSocket: false)
        defer { for g in [high, low, plain] { Self.removeEverywhere(g, hosts: [1, 2, 3]) } }
        let v1 = try #require(c.daemons[1])
        for (g, args) in [(high, ["--ha-priority", "high"]), (low, ["--ha-priority", "low"]), (plain, ["--ha", "off"])] {
            let r = try v1.vigil(["vm", "settings", g.name] + args)
            #expect(r.status == 0, "\(r.stderr)")
            try g.start()
        }
        try await v1.waitUntil("both HA guests protected by the cluster on cvk1", timeout: 120) {
            let s = try c.status(via: 2)
            return [high.name, low.name].allSatisfy { n in s?.vms.contains { $0.name == n && $0.host == "cvk1" && $0.state == "running" && $0.protected } == true }
        }
        let s = try #require(try c.status(via: 3))
        #expect(s.vms.first { $0.name == plain.name }.map(\.protected) != true, "an HA-off VM is not protected: \(s.vms)")
        #expect(s.hosts.filter { $0.state == "alive" }.count == 3, "\(s.hosts)")
        #expect(s.toleratesHostFailure, "\(s.tolerance)")

        try ClusterRig.run(["kill", "1"])
        let killed = Date()
        let survivors = [2, 3]
        let v2 = try #require(c.daemons[2]), v3 = try #require(c.daemons[3])
        try await v2.waitUntil("both HA guests running on a survivor with their agents heartbeating", timeout: 150) {
            [high.name, low.name].allSatisfy { n in
                Self.hostsRunning(n, among: survivors).count == 1
                    && ((try? v2.agentStatus(n)?.state == .alive) == true || (try? v3.agentStatus(n)?.state == .alive) == true)
            }
        }
        let back = Date().timeIntervalSince(killed)
        for n in [high.name, low.name] {
            #expect(Self.hostsRunning(n, among: survivors).count == 1, "\(n) runs exactly once")
        }
        #expect(Self.hostsRunning(plain.name, among: survivors).isEmpty, "the HA-off VM is left alone")
        let events = try c.events(via: 2)
        let placeHigh = try #require(events.firstIndex { $0.kind == "place" && $0.vm == high.name }, "\(events.map(\.message))")
        let startedHigh = try #require(events.firstIndex { $0.kind == "started" && $0.vm == high.name }, "\(events.map(\.message))")
        let placeLow = try #require(events.firstIndex { $0.kind == "place" && $0.vm == low.name }, "\(events.map(\.message))")
        #expect(placeHigh < startedHigh && startedHigh < placeLow, "high priority first, low waits until it runs: \(events.map(\.message))")
        #expect(events.contains { $0.kind == "host" && $0.message.contains("cvk1 is dead") }, "\(events.map(\.message))")
        print("failover of 2 HA guests after a host kill: \(String(format: "%.1f", back)) s until both agents heartbeat")
    }

    @Test func partitionedHostFencesItselfBeforeItsVMRestartsElsewhere() async throws {
        let c = try Self.cluster()
        defer { c.stop() }
        let host2 = try Connection(uri: ClusterRig.uri(2))
        let guest = try TestGuest(on: host2, diskDirectory: c.shared, controlSocket: false)
        defer {
            _ = try? ClusterRig.run(["heal", "2"])
            Self.removeEverywhere(guest, hosts: [1, 2, 3])
        }
        try guest.start()
        let v1 = try #require(c.daemons[1])
        try await v1.waitUntil("the guest protected on cvk2", timeout: 120) {
            try c.status(via: 1)?.vms.contains { $0.name == guest.name && $0.host == "cvk2" && $0.state == "running" } == true
        }
        try ClusterRig.run(["partition", "2"])
        // Its storage heartbeat goes on, so the others wait for its fence; it fences, then the VM restarts elsewhere.
        try await v1.waitUntil("the guest running on another host", timeout: 120) {
            !Self.hostsRunning(guest.name, among: [1, 3]).isEmpty
        }
        #expect(Self.hostsRunning(guest.name, among: [2]).isEmpty, "cvk2 stopped it")
        #expect(Self.hostsRunning(guest.name, among: [1, 3]).count == 1)
        let events = try c.events(via: 1)
        // cvk2 could not tell etcd while cut off; the manager read it on cvk2's storage heartbeat.
        let fence = try #require(events.firstIndex { $0.kind == "host" && $0.message.contains("cvk2 is fenced") }, "\(events.map(\.message))")
        let place = try #require(events.firstIndex { $0.kind == "place" && $0.vm == guest.name }, "\(events.map(\.message))")
        #expect(fence < place, "fenced before placed elsewhere: \(events.map(\.message))")
        // Healed, cvk2 rejoins and does not start it a second time.
        try ClusterRig.run(["heal", "2"])
        try await v1.waitUntil("cvk2 alive again", timeout: 60) {
            try c.status(via: 1)?.hosts.contains { $0.id == "cvk2" && $0.state == "alive" } == true
        }
        try await Task.sleep(for: .seconds(5))
        #expect(Self.hostsRunning(guest.name, among: [1, 2, 3]).count == 1, "still exactly once after the heal")
        // Its own account of the fence reaches the cluster's log once etcd answers again.
        let own = try c.events(via: 1).first { $0.kind == "fence" && $0.host == "cvk2" }
        #expect(own?.message.contains(guest.name) == true, "\(String(describing: own))")
    }

    @Test func managerKilledMidFailoverIsContinuedByTheNext() async throws {
        let c = try Self.cluster(first: 1)
        defer { c.stop() }
        let host2 = try Connection(uri: ClusterRig.uri(2))
        let high = try TestGuest(on: host2, diskDirectory: c.shared, controlSocket: false)
        let low = try TestGuest(on: host2, diskDirectory: c.shared, controlSocket: false)
        defer { for g in [high, low] { Self.removeEverywhere(g, hosts: [1, 2, 3]) } }
        let v2 = try #require(c.daemons[2]), v3 = try #require(c.daemons[3])
        for (g, p) in [(high, "high"), (low, "low")] {
            #expect(try v2.vigil(["vm", "settings", g.name, "--ha-priority", p]).status == 0)
            try g.start()
        }
        try await v3.waitUntil("both protected on cvk2, cvk1 the manager", timeout: 120) {
            let s = try c.status(via: 3)
            return s?.manager == "cvk1" && [high.name, low.name].allSatisfy { n in s?.vms.contains { $0.name == n && $0.host == "cvk2" && $0.state == "running" } == true }
        }
        try ClusterRig.run(["kill", "2"])
        // The manager places the high-priority VM, then dies before the low one's turn.
        try await v3.waitUntil("the manager's first placement", timeout: 60) {
            try c.events(via: 3).contains { $0.kind == "place" && $0.vm == high.name }
        }
        try ClusterRig.run(["kill", "1"])
        try await v3.waitUntil("both running on cvk3, the last host, with their agents", timeout: 150) {
            [high.name, low.name].allSatisfy { n in
                Self.hostsRunning(n, among: [3]).count == 1 && (try? v3.agentStatus(n)?.state == .alive) == true
            }
        }
        let events = try c.events(via: 3)
        #expect(events.contains { $0.kind == "elected" && $0.host == "cvk3" }, "cvk3 took over: \(events.map(\.message))")
        let lows = events.filter { $0.kind == "place" && $0.vm == low.name }
        #expect(lows.count == 1 && lows.first?.message.contains("on cvk3") == true, "the low one placed once, by the new manager: \(events.map(\.message))")
        let s = try #require(try c.status(via: 3))
        #expect(s.manager == "cvk3" && s.vms.filter { $0.host == "cvk3" && $0.state == "running" }.count == 2, "\(s)")
    }

    @Test func etcdLosingAMemberChangesNothingLosingQuorumFreezesHAAndAdmissionControlRefuses() async throws {
        // 1 GiB offered per host: admission control has something to refuse.
        let c = try Self.cluster(extraArguments: ["--cluster-memory", "1024"])
        defer {
            _ = try? ClusterRig.run(["etcd-start", "1"])
            _ = try? ClusterRig.run(["etcd-start", "2"])
            c.stop()
        }
        let host1 = try Connection(uri: ClusterRig.uri(1))
        let guest = try TestGuest(on: host1, diskDirectory: c.shared, controlSocket: false)
        let spare = try TestGuest(on: host1, diskDirectory: c.shared, controlSocket: false)
        defer { for g in [guest, spare] { Self.removeEverywhere(g, hosts: [1, 2, 3]) } }
        try guest.start()
        let v1 = try #require(c.daemons[1]), v2 = try #require(c.daemons[2])
        try await v2.waitUntil("the guest protected on cvk1", timeout: 120) {
            try c.status(via: 2)?.vms.contains { $0.name == guest.name && $0.host == "cvk1" && $0.state == "running" } == true
        }
        // Admission control: 90 % of 3 GiB kept free leaves no room for the spare's 256 MiB.
        let on = try v1.vigil(["cluster", "ha", "on", "--reserve-memory", "90"])
        #expect(on.status == 0, "\(on.stderr)")
        let refused = try v1.vigil(["vm", "start", spare.name])
        #expect(refused.status != 0 && refused.stderr.contains("kept for failover"), "\(refused.stdout) \(refused.stderr)")
        #expect(try c.status(via: 2)?.toleratesHostFailure == true, "failover may use the reserve: it is kept for it")
        #expect(try v1.vigil(["cluster", "ha", "on", "--min-hosts", "3"]).status == 0)
        let three = try c.status(via: 2)
        #expect(three?.toleratesHostFailure == false && three?.tolerance.contains("fewer than the 3") == true, "\(String(describing: three?.tolerance))")
        #expect(try v1.vigil(["cluster", "ha", "on", "--min-hosts", "1"]).status == 0)
        #expect(try v1.vigil(["cluster", "ha", "on", "--reserve-memory", "150"]).stderr.contains("0-90"))
        // CPU: 6 threads on three hosts, 1 claimed by the guest's vCPU; 90 % kept leaves no thread for the spare's.
        #expect(try v1.vigil(["cluster", "ha", "on", "--reserve-memory", "0", "--reserve-cpu", "90"]).status == 0)
        let cpuRefused = try v1.vigil(["vm", "start", spare.name])
        #expect(cpuRefused.status != 0 && cpuRefused.stderr.contains("CPU thread(s) unclaimed by vCPUs"), "\(cpuRefused.stderr)")
        // A dedicated failover host takes no VM an administrator starts.
        #expect(try v1.vigil(["cluster", "ha", "on", "--reserve-cpu", "0", "--failover-host", "cvk1"]).status == 0)
        let onFailoverHost = try v1.vigil(["vm", "start", spare.name])
        #expect(onFailoverHost.status != 0 && onFailoverHost.stderr.contains("dedicated failover host"), "\(onFailoverHost.stderr)")
        // Nor one migrated to it: the destination is known by its libvirt host UUID, whatever URI names it.
        #expect(try v1.vigil(["cluster", "ha", "on", "--failover-host", "cvk2"]).status == 0)
        let toFailoverHost = try v1.vigil(["vm", "migrate", guest.name, "--to", ClusterRig.uri(2)])
        #expect(toFailoverHost.status != 0 && toFailoverHost.stderr.contains("cvk2") && toFailoverHost.stderr.contains("dedicated failover host"),
                "\(toFailoverHost.stdout) \(toFailoverHost.stderr)")
        #expect(Self.hostsRunning(guest.name, among: [1, 2]) == [1])
        #expect(try v1.vigil(["cluster", "ha", "on", "--reserve-memory", "10", "--failover-host", "none"]).status == 0)
        #expect(try v1.vigil(["vm", "start", spare.name]).status == 0, "allowed within a 10 % reserve")

        func fences() throws -> [VigilEvent] {
            try v1.events().filter { $0.kind == "cluster" && $0.message.contains("fenced itself") }
        }
        // One member of three lost: nothing changes.
        try ClusterRig.run(["etcd-kill", "1"])
        try await Task.sleep(for: .seconds(8))
        #expect(try fences().isEmpty)
        #expect(try c.status(via: 2)?.hosts.filter { $0.state == "alive" }.count == 3)
        #expect(Self.hostsRunning(guest.name, among: [1]) == [1])
        // Two lost: no quorum. Past the lease's TTL, nobody fences and nothing moves.
        try ClusterRig.run(["etcd-kill", "2"])
        try await Task.sleep(for: .seconds(12))
        let clusterEvents = (try? v1.events().filter { $0.kind == "cluster" }.suffix(15).map(\.message)) ?? []
        #expect(try fences().isEmpty, "no VM is stopped on stale state: \(clusterEvents)")
        #expect(Self.hostsRunning(guest.name, among: [1]) == [1] && Self.hostsRunning(guest.name, among: [2, 3]).isEmpty)
        #expect(try v1.events().contains { $0.kind == "cluster" && $0.message.contains("etcd has no quorum") })
        let status = try v2.vigil(["cluster", "status"])
        #expect(status.status != 0 && status.stderr.contains("etcd"), "\(status.stderr)")
        // Back: every host joins again, the VM never moved.
        try ClusterRig.run(["etcd-start", "1"])
        try ClusterRig.run(["etcd-start", "2"])
        try await v2.waitUntil("all hosts alive again", timeout: 60) {
            try c.status(via: 2)?.hosts.filter { $0.state == "alive" }.count == 3
        }
        try await Task.sleep(for: .seconds(4))
        #expect(try fences().isEmpty)
        let recent = (try? v1.events(vm: guest.name).suffix(12).map { "\($0.kind): \($0.message)" }) ?? []
        #expect(Self.hostsRunning(guest.name, among: [1, 2, 3]) == [1], "cvk1's events for the guest: \(recent)")
    }
}
