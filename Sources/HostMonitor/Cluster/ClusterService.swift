import Core
import Foundation

/// The cluster room's entry point: builds the member and the manager for a
/// clustered vigild, and answers `vigil cluster …` from etcd.
struct ClusterService: Sendable {
    let settings: ClusterSettings
    let etcd: EtcdClient
    let keys: ClusterKeys
    let storage: StorageHeartbeat
    let member: ClusterMember
    let manager: HAManager
    let events: ClusterEventLog

    init(settings: ClusterSettings, host: HostContext, sharedStorage: [String], maintenanceMark: String) throws {
        self.settings = settings
        etcd = try EtcdClient(endpoints: settings.endpoints, timeout: ClusterSettings.retry.seconds)
        keys = ClusterKeys(cluster: settings.name)
        storage = StorageHeartbeat(directories: sharedStorage, cluster: settings.name)
        events = ClusterEventLog(etcd: etcd, keys: keys, host: settings.hostID, local: host.events, logger: host.logger)
        member = ClusterMember(host: host, etcd: etcd, keys: keys, settings: settings, storage: storage,
                               facts: LocalVMFacts(shared: SharedStorage(directories: sharedStorage)), events: events,
                               maintenanceMark: maintenanceMark)
        manager = HAManager(etcd: etcd, keys: keys, settings: settings, storage: storage, member: member, events: events,
                            logger: host.logger)
    }

    private func view() async throws -> ClusterView {
        do {
            return ClusterView(try await etcd.list(prefix: keys.root), keys: keys)
        } catch {
            throw APIError.unavailable("etcd does not answer: \(error)",
                                       hint: "check the etcd members (\(settings.endpoints.joined(separator: ", "))); without a quorum HA decides nothing")
        }
    }

    func status() async throws -> ClusterStatus {
        let view = try await view()
        let scanned = storage.scan()
        let beats = scanned.mapValues(\.beat)
        var hostIDs = Set(view.hosts.keys).union(view.placements.values.map(\.record.host)).union(beats.keys)
        hostIDs.insert(settings.hostID)
        let hosts = hostIDs.sorted().map { id -> ClusterHostStatus in
            let r = view.hosts[id], beat = beats[id]
            let state = r != nil ? "alive" : beat?.fenced == true ? "fenced" : beat?.agentStopped == true ? "vigild-stopped" : "lease-lost"
            return ClusterHostStatus(id: id, uri: r?.uri, state: state, manager: view.manager == id, maintenance: r?.maintenance ?? false,
                                     memoryMiB: r?.memoryMiB ?? 0, freeMemoryMiB: r?.freeMemoryMiB ?? 0,
                                     storageHeartbeatAgeSeconds: scanned[id]?.ageSeconds,
                                     haVMs: view.vms.values.filter { view.placements[$0.uuid]?.record.host == id && $0.ha && $0.onSharedStorage }.count)
        }
        let vms = view.vms.values.sorted { $0.name < $1.name }.map { vm -> ClusterVMStatus in
            let host = view.placements[vm.uuid]?.record.host
            let status = view.runningHost(of: vm.uuid).flatMap { view.statuses[$0]?[vm.uuid] } ?? host.flatMap { view.statuses[$0]?[vm.uuid] }
            let state = status?.state.rawValue ?? (vm.wanted == "running" ? "down" : "stopped")
            return ClusterVMStatus(uuid: vm.uuid, name: vm.name, host: view.runningHost(of: vm.uuid) ?? host, state: state,
                                   priority: vm.priority, memoryMiB: vm.memoryMiB, protected: vm.ha && vm.onSharedStorage,
                                   detail: status?.detail)
        }
        let (tolerates, why) = Self.tolerance(view)
        return ClusterStatus(cluster: settings.name, host: settings.hostID, manager: view.manager, quorum: true, ha: view.config,
                             hosts: hosts, vms: vms, toleratesHostFailure: tolerates, tolerance: why)
    }

    /// Whether the HA VMs of each live host would fit in the memory the
    /// other live hosts have free (the reserve included: it is kept for
    /// this), with enough hosts left for HA to act.
    static func tolerance(_ view: ClusterView) -> (Bool, String) {
        let live = view.hosts.values.filter { !$0.maintenance }
        guard view.config.enabled else { return (false, "HA is off") }
        guard live.count - 1 >= view.config.minHosts else {
            return (false, "\(live.count) live host(s): losing one leaves fewer than the \(view.config.minHosts) HA needs")
        }
        for h in live {
            let free = Admission.Pool(live.filter { $0.id != h.id }).freeMemoryMiB
            let need = view.vms.values.filter { view.placements[$0.uuid]?.record.host == h.id && $0.ha && $0.onSharedStorage && $0.wanted == "running" }
                .reduce(0) { $0 + $1.memoryMiB }
            if need > free {
                return (false, "the HA VMs of \(h.id) (\(need) MiB) do not fit in the \(max(0, free)) MiB the other hosts have free")
            }
        }
        return (true, "the HA VMs of any one host fit on the others")
    }

    func eventList(limit: Int) async throws -> ClusterEventList {
        let view = try await view()
        return ClusterEventList(events: Array(view.events.sorted { $0.time < $1.time }.suffix(max(1, limit))))
    }

    func setHA(_ r: ClusterHARequest) async throws -> ClusterHAConfig {
        let view = try await view()
        var c = view.config
        c.enabled = r.enabled
        if let v = r.minHosts { c.minHosts = v }
        if let v = r.failoverHosts { c.failoverHosts = v }
        if let v = r.reserveCPUPercent { c.reserveCPUPercent = v }
        if let v = r.reserveMemoryPercent { c.reserveMemoryPercent = v }
        guard c.problems.isEmpty else {
            throw APIError.badRequest(c.problems.joined(separator: "; "), hint: "vigil cluster ha on --min-hosts N --reserve-memory P (0-90)")
        }
        let unknown = c.failoverHosts.filter { view.hosts[$0] == nil }
        guard unknown.isEmpty else {
            throw APIError.badRequest("no live host is called \(unknown.joined(separator: ", "))",
                                      hint: "vigil cluster hosts lists the hosts (\(view.hosts.keys.sorted().joined(separator: ", ")))")
        }
        try await etcd.put(keys.config, try JSONEncoder.cluster.encode(c))
        let parts = ["HA \(c.enabled ? "on" : "off")", "min hosts \(c.minHosts)",
                     "failover hosts \(c.failoverHosts.isEmpty ? "none" : c.failoverHosts.joined(separator: ","))",
                     "reserve cpu \(c.reserveCPUPercent) %, memory \(c.reserveMemoryPercent) %"]
        await events.record("config", "cluster HA set by \(settings.hostID): " + parts.joined(separator: "; "))
        return c
    }

    /// Refuses a migration (by hand, or a maintenance evacuation, which
    /// then tries its next peer) onto a cluster host that takes no ordinary placement: one
    /// in maintenance, or a dedicated failover host while HA is on. The
    /// reserves are not at stake: a VM moving between the cluster's hosts
    /// leaves the cluster's free memory and CPU as they were. A destination
    /// outside the cluster, or etcd not answering, refuses nothing here.
    func admitMigration(name: String, toHostUUID uuid: String, destination: String) async throws {
        guard let view = try? await view(), let target = view.hosts.values.first(where: { $0.hostUUID == uuid }),
              target.id != settings.hostID else { return }
        if target.maintenance {
            throw APIError.conflict("\(target.id) (\(destination)) is in maintenance: it takes no VM",
                                    hint: "choose another host, or end its maintenance there (vigil host maintenance off)")
        }
        if view.config.enabled && view.config.failoverHosts.contains(target.id) {
            throw APIError.conflict("\(target.id) (\(destination)) is a dedicated failover host: it takes VMs only when HA restarts them there",
                                    hint: "migrate \(name) to another host, or change the failover hosts (vigil cluster ha on --failover-host H, or none)")
        }
    }

    /// Refuses an administrator's VM start on this host that would break
    /// admission control: the reserves of memory and CPU kept for failover,
    /// a dedicated failover host (it takes VMs only in a failover), or a
    /// start of an HA VM that the cluster has placed on another host.
    /// Failover starts themselves use the reserve: that is what it is for.
    func admit(vmUUID: String, name: String, _ demand: Admission.Demand) async throws {
        guard let view = try? await view() else { return }
        if let p = view.placements[vmUUID], p.record.host != settings.hostID, view.hosts[p.record.host] != nil,
           view.vms[vmUUID]?.ha == true {
            throw APIError.conflict("\(name) is placed on \(p.record.host) by cluster HA: it may start only there",
                                    hint: "start it on \(p.record.host), or migrate it (vigil vm migrate) so the placement moves with it")
        }
        let c = view.config
        guard c.enabled else { return }
        if c.failoverHosts.contains(settings.hostID) {
            throw APIError.conflict("\(settings.hostID) is a dedicated failover host: it starts VMs only when HA restarts them here",
                                    hint: "start \(name) on another host, or change the failover hosts (vigil cluster ha on --failover-host H, or none)")
        }
        let admission = Admission(c)
        guard admission.reserveMemoryPercent > 0 || admission.reserveCPUPercent > 0 else { return }
        if let why = admission.refusal(demand, from: Admission.Pool(view.hosts.values.filter { !$0.maintenance })) {
            throw APIError.conflict("starting \(name) (\(demand.memoryMiB) MiB, \(demand.vcpus) vCPU) \(why)",
                                    hint: "stop another VM, add a host, or lower the reserve (vigil cluster ha on --reserve-memory P --reserve-cpu P)")
        }
    }
}
