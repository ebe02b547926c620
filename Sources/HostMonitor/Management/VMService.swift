import Core
import Libvirt

/// What the API reads of this host and its VMs: host facts, the VM list
/// with each VM's agent state, agent status. Other areas ask it for a VM's
/// summary after changing the VM.
struct VMService: Sendable {
    let host: HostContext
    let center: ProtectionCenter
    /// The policy of VMs without one of their own.
    let defaultPolicy: ProtectionPolicy
    /// Definitions last read (states are always read live).
    let cache: DomainCache

    func hostInfo() async throws -> HostInfo {
        let conn = try host.connection()
        let uri = host.uri
        var info = try await host.executor.run { () throws -> HostInfo in
            let node = try conn.nodeInfo
            let v = try conn.libraryVersion
            let h = try? conn.hypervisorVersion
            return HostInfo(hostname: try conn.hostname, hostUUID: try conn.hostUUID, libvirtURI: uri,
                            libvirtConnected: conn.isAlive, libvirtVersion: "\(v.major).\(v.minor).\(v.micro)",
                            driver: try conn.driverType, hypervisorVersion: h.map { "\($0.major).\($0.minor).\($0.micro)" }, cpus: node.cpus, memoryMiB: node.memoryKiB / 1024,
                            freeMemoryMiB: (try? conn.freeMemory).map { $0 / 1024 / 1024 } ?? 0,
                            vigildVersion: VigilVersion.current, domains: try conn.domains().count, protectedDomains: 0)
        }
        info.protectedDomains = try await vmList().filter { $0.agent.isProtected }.count
        return info
    }

    func vmList() async throws -> [VMSummary] {
        let conn = try host.connection()
        let defaults = defaultPolicy, cache = self.cache
        let rows = try await host.executor.run { try conn.domains().map { try cache.current($0, defaults: defaults) } }
        var result: [VMSummary] = []
        let tracked = await center.all
        for d in rows { result.append(summary(d, tracked[d.uuid])) }
        return result
    }

    private func summary(_ d: DomainSnapshot, _ tracked: ProtectionCenter.Tracked?) -> VMSummary {
        VMSummary(name: d.name, uuid: d.uuid, state: d.state.state.description,
                  stateReason: d.state.reasonName, agent: agentState(d, tracked),
                  agentVersion: tracked?.hello?.agentVersion ?? tracked?.guestAgentVersion, guestOS: tracked?.hello?.os,
                  autostart: d.autostart, agentKind: agentKind(d, tracked))
    }

    /// One VM by name or UUID, as `vigil vm list` shows it.
    func vm(_ key: String) async throws -> VMSummary {
        guard let vm = try await vmList().first(where: { $0.name == key || $0.uuid == key }) else {
            throw APIError.notFound("no VM named or with UUID '\(key)'", hint: "list VMs with 'vigil vm list'")
        }
        return vm
    }

    /// One VM's summary after a change to it, its definition read afresh.
    func summary(uuid: String, name: String) async throws -> VMSummary {
        let conn = try host.connection()
        let defaults = defaultPolicy, cache = self.cache
        cache.invalidate(uuid)
        let d: DomainSnapshot
        do {
            d = try await host.executor.run { try cache.current(try conn.domain(uuid: uuid), defaults: defaults, refetch: true) }
        } catch let error as LibvirtError where error.code == .noDomain {
            throw APIError.notFound("VM \(name) vanished", hint: "list VMs with 'vigil vm list'")
        }
        return summary(d, await center.tracked(uuid))
    }

    func agentStatus(vm: String?) async throws -> [AgentStatus] {
        let conn = try host.connection()
        let defaults = defaultPolicy, cache = self.cache
        let rows = try await host.executor.run { () throws -> [DomainSnapshot] in
            if let vm { return [try cache.current(try conn.domain(nameOrUUID: vm), defaults: defaults)] }
            return try conn.domains().map { try cache.current($0, defaults: defaults) }
        }
        var result: [AgentStatus] = []
        for d in rows {
            let t = await center.tracked(d.uuid)
            let state = agentState(d, t)
            let age = (state == .alive || state == .lost) ? t?.lastHeartbeat.map { Int($0.duration(to: .now).milliseconds) } : nil
            result.append(AgentStatus(vm: d.name, uuid: d.uuid, state: state, agentVersion: t?.hello?.agentVersion ?? t?.guestAgentVersion,
                                      guestOS: t?.hello?.os, kernel: t?.hello?.kernel, bootID: t?.hello?.bootID,
                                      lastHeartbeatAgeMs: age, heartbeatIntervalMs: d.policy.heartbeatIntervalMs,
                                      agentKind: agentKind(d, t)))
        }
        return result
    }

    /// Which agent watches the VM now: qemu-ga only once it answered.
    private func agentKind(_ d: DomainSnapshot, _ tracked: ProtectionCenter.Tracked?) -> GuestAgentKind {
        switch d.watchedAgent {
        case .qemuGA: return agentState(d, tracked) == .unprotected || agentState(d, tracked) == .stopped ? .none : .qemuGA
        case .vigilAgent where d.guestAgentFallback && tracked?.hello == nil && tracked?.guestAgentVersion != nil:
            return .qemuGA
        case let kind: return kind
        }
    }

    private func agentState(_ d: DomainSnapshot, _ tracked: ProtectionCenter.Tracked?) -> AgentState {
        if d.watchesGuestAgent {
            guard d.state.state == .running || d.state.state == .paused else { return .stopped }
            // A qemu-ga that never answered (or left) is no protection, not a failure.
            let state = tracked?.machine.agent ?? .connecting
            return state == .alive || state == .lost ? state : .unprotected
        }
        if !d.hasChannel { return .unprotected }
        if d.state.state != .running && d.state.state != .paused { return .stopped }
        return tracked?.machine.agent ?? .connecting
    }
}
