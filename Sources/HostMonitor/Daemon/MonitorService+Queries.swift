import Core
import Foundation
import Libvirt

/// The operations the API exposes: thin reads and writes over the monitor.
extension MonitorService {
    public func hostInfo() async throws -> HostInfo {
        let conn = try connection()
        let uri = config.libvirtURI
        var info = try await executor.run { () throws -> HostInfo in
            let node = try conn.nodeInfo
            let v = try conn.libraryVersion
            return HostInfo(hostname: try conn.hostname, hostUUID: try conn.hostUUID, libvirtURI: uri,
                            libvirtConnected: conn.isAlive, libvirtVersion: "\(v.major).\(v.minor).\(v.micro)",
                            driver: try conn.driverType, cpus: node.cpus, memoryMiB: node.memoryKiB / 1024,
                            freeMemoryMiB: (try? conn.freeMemory).map { $0 / 1024 / 1024 } ?? 0,
                            vigildVersion: VigilVersion.current, domains: try conn.domains().count, protectedDomains: 0)
        }
        info.protectedDomains = try await vmList().filter { $0.agent.isProtected }.count
        return info
    }

    public func vmList() async throws -> [VMSummary] {
        let conn = try connection()
        let defaults = config.defaultPolicy
        let rows = try await executor.run { try conn.domains().map { try DomainSnapshot(dom: $0, defaults: defaults) } }
        var result: [VMSummary] = []
        for d in rows {
            let tracked = await center.tracked(d.uuid)
            result.append(VMSummary(name: d.name, uuid: d.uuid, state: d.state.state.description,
                                    stateReason: d.state.reasonName, agent: agentState(d, tracked),
                                    agentVersion: tracked?.hello?.agentVersion, guestOS: tracked?.hello?.os,
                                    autostart: d.autostart))
        }
        return result
    }

    private func agentState(_ d: DomainSnapshot, _ tracked: ProtectionCenter.Tracked?) -> AgentState {
        if !d.hasChannel { return .unprotected }
        if d.state.state != .running && d.state.state != .paused { return .stopped }
        return tracked?.machine.agent ?? .connecting
    }

    public func agentStatus(vm: String?) async throws -> [AgentStatus] {
        let conn = try connection()
        let defaults = config.defaultPolicy
        let rows = try await executor.run { () throws -> [DomainSnapshot] in
            if let vm { return [try DomainSnapshot(dom: try conn.domain(nameOrUUID: vm), defaults: defaults)] }
            return try conn.domains().map { try DomainSnapshot(dom: $0, defaults: defaults) }
        }
        var result: [AgentStatus] = []
        for d in rows {
            let t = await center.tracked(d.uuid)
            let state = agentState(d, t)
            let age = (state == .alive || state == .lost) ? t?.lastHeartbeat.map { Int($0.duration(to: .now).milliseconds) } : nil
            result.append(AgentStatus(vm: d.name, uuid: d.uuid, state: state, agentVersion: t?.hello?.agentVersion,
                                      guestOS: t?.hello?.os, kernel: t?.hello?.kernel, bootID: t?.hello?.bootID,
                                      lastHeartbeatAgeMs: age, heartbeatIntervalMs: d.policy.heartbeatIntervalMs))
        }
        return result
    }

    public func policy(vm: String) async throws -> PolicyDocument {
        let conn = try connection()
        let defaults = config.defaultPolicy
        let d = try await executor.run { try DomainSnapshot(dom: try conn.domain(nameOrUUID: vm), defaults: defaults) }
        return PolicyDocument(vm: d.name, policy: d.policy, isHostDefault: !d.hasOwnPolicy)
    }

    /// Stores a VM's policy in its metadata (persistent, and live when running)
    /// and makes the definition protectable. Returns the stored policy and
    /// notes on what changed.
    public func setPolicy(vm: String, policy: ProtectionPolicy) async throws -> PolicyUpdate {
        let problems = policy.problems
        guard problems.isEmpty else {
            throw APIError.badRequest("invalid policy: " + problems.joined(separator: "; "),
                                      hint: "see 'vigil policy set --help' for the allowed ranges")
        }
        let conn = try connection()
        let (uuid, name, notes) = try await executor.run { () throws -> (String, String, [String]) in
            let dom = try conn.domain(nameOrUUID: vm)
            var notes: [String] = []
            let fixed = DomainXML.protectionFixups(try dom.xml([.inactive, .secure]))
            if !fixed.changes.isEmpty {
                _ = try conn.define(xml: fixed.xml)
                notes += fixed.changes
                if try dom.isActive { notes.append("device changes take effect at the next boot") }
            }
            let xml = PolicyMetadata.xml(for: policy)
            try dom.setMetadata(xml, key: PolicyMetadata.key, namespaceURI: PolicyMetadata.namespaceURI, affect: .config)
            if try dom.isActive {
                try dom.setMetadata(xml, key: PolicyMetadata.key, namespaceURI: PolicyMetadata.namespaceURI, affect: .live)
            }
            return (dom.uuid, dom.name, notes)
        }
        await center.setPolicy(uuid, policy)
        events.record(vmUUID: uuid, vmName: name, kind: "policy",
                      message: "policy set: on crash \(policy.onCrash.rawValue), heartbeat \(policy.heartbeatIntervalMs) ms × \(policy.misses), "
                        + "min uptime \(policy.minUptimeSeconds) s, at most \(policy.maxResets) resets in \(policy.windowSeconds) s")
        return PolicyUpdate(policy: PolicyDocument(vm: name, policy: policy, isHostDefault: false), notes: notes)
    }

    /// Events after `afterID` (or since `since`); with `waitSeconds`, waits
    /// up to that long for the first new one (long poll for `--follow`).
    public func eventList(vm: String?, since: Date?, afterID: Int64?, waitSeconds: Int) async throws -> [VigilEvent] {
        var uuid: String?
        if let vm {
            if let known = await center.all.first(where: { $0.value.name == vm || $0.key == vm }) {
                uuid = known.key
            } else if let logged = try store.loggedVMUUID(nameOrUUID: vm) {
                uuid = logged
            } else {
                let conn = try connection()
                uuid = try await executor.run { try conn.domain(nameOrUUID: vm).uuid }
            }
        }
        let deadline = Date().addingTimeInterval(Double(min(max(waitSeconds, 0), 60)))
        while true {
            let found = try store.events(vmUUID: uuid, since: since, afterID: afterID).map(\.api)
            if !found.isEmpty || Date() >= deadline { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// `PUT /v1/vms/{vm}/policy` reply.
public struct PolicyUpdate: Codable, Sendable {
    public var policy: PolicyDocument
    public var notes: [String]
}

// MARK: - time

extension MonitorService {
    /// Resolves a VM to its UUID and name, and checks that its agent is up.
    private func liveAgent(_ vm: String) async throws -> (uuid: String, name: String, tracked: ProtectionCenter.Tracked) {
        let conn = try connection()
        let (uuid, name) = try await executor.run { () throws -> (String, String) in
            let dom = try conn.domain(nameOrUUID: vm)
            return (dom.uuid, dom.name)
        }
        guard let t = await center.tracked(uuid), t.machine.agent == .alive else {
            throw APIError.conflict("VM \(name) has no connected vigil-agent",
                                    hint: "start the VM and check 'vigil agent status \(name)'")
        }
        return (uuid, name, t)
    }

    /// Measures the guest's clock offset now.
    public func timeStatus(vm: String) async throws -> TimeStatus {
        let (uuid, name, t) = try await liveAgent(vm)
        let sample = try await agentCall { try await timeKeeper.measure(uuid) }
        return TimeStatus(vm: name, timeSync: t.settings.timeSync, offsetMs: Double(sample.offsetNs) / 1e6,
                          delayMs: Double(sample.delayNs) / 1e6)
    }

    /// Brings the guest clock to the host's time now (stepping it).
    public func syncTime(vm: String) async throws -> TimeStatus {
        let (uuid, name, t) = try await liveAgent(vm)
        var status = try await agentCall { try await timeKeeper.sync(uuid, name: name, reason: "requested", forceStep: true) }
        status.timeSync = t.settings.timeSync
        return status
    }

    private func agentCall<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.gatewayTimeout, "\(error)", hint: "check the agent with 'vigil agent status'; the guest may be busy or hung")
        }
    }
}

// MARK: - agent upgrades

/// `POST /v1/agent-repo` body.
public struct RepoAddRequest: Codable, Sendable {
    public var path: String
    public init(path: String) { self.path = path }
}

/// `POST /v1/agents/upgrade` body: every VM with a connected agent, `batch` at a time.
public struct UpgradeAllRequest: Codable, Sendable {
    public var batch: Int
    public init(batch: Int) { self.batch = batch }
}

extension MonitorService {
    func repoList() -> AgentRepository.Listing {
        AgentRepository.Listing(packages: repository.list(), signatureChecked: !repository.trustedKeys.isEmpty)
    }

    func repoAdd(path: String) throws -> AgentPackageManifest {
        do {
            let m = try repository.add(path: path)
            let note = repository.trustedKeys.isEmpty ? " (signature not checked here: vigild has no --agent-trust-key; agents check it)" : ""
            events.record(kind: "upgrade", message: "agent \(m.version) for \(m.arch) added to the repository\(note)")
            return m
        } catch let error as PackageError {
            events.record(kind: "upgrade", message: "package \(path) refused: \(error)", outcome: "refused")
            logger.warning("agent package \(path) refused: \(error)")
            throw APIError.badRequest("package refused: \(error)", hint: "sign release builds with 'vigil agent sign'")
        } catch let error as AgentRepository.RepositoryError {
            throw APIError.badRequest(error.description, hint: "check the file")
        }
    }

    func upgradeAgent(vm: String) async throws -> AgentUpgrader.Result {
        let conn = try connection()
        let (uuid, name) = try await executor.run { () throws -> (String, String) in
            let dom = try conn.domain(nameOrUUID: vm)
            return (dom.uuid, dom.name)
        }
        return await upgrader.upgrade(uuid: uuid, name: name)
    }

    /// Staged rollout: `batch` VMs at a time; a batch with a failure stops
    /// the rollout, and the rest are reported as not attempted.
    func upgradeAll(batch: Int) async throws -> [AgentUpgrader.Result] {
        guard (1...64).contains(batch) else { throw APIError.badRequest("batch must be 1 to 64, got \(batch)", hint: "vigil agent upgrade --all --batch N") }
        let targets = await center.all.filter { $0.value.machine.agent == .alive }.map { ($0.key, $0.value.name) }.sorted { $0.1 < $1.1 }
        var results: [AgentUpgrader.Result] = []
        var stopped = false
        for start in stride(from: 0, to: targets.count, by: batch) {
            let slice = targets[start..<min(start + batch, targets.count)]
            if stopped {
                results += slice.map { AgentUpgrader.Result(vm: $0.1, outcome: "not-attempted", message: "an earlier batch failed") }
                continue
            }
            let upgrader = self.upgrader
            let batchResults = await withTaskGroup(of: AgentUpgrader.Result.self) { group in
                for (uuid, name) in slice { group.addTask { await upgrader.upgrade(uuid: uuid, name: name) } }
                var r: [AgentUpgrader.Result] = []
                for await one in group { r.append(one) }
                return r.sorted { $0.vm < $1.vm }
            }
            results += batchResults
            if batchResults.contains(where: { !["upgraded", "up-to-date"].contains($0.outcome) }) { stopped = true }
        }
        return results
    }
}

// MARK: - power

extension MonitorService {
    /// One VM's summary, as `vigil vm list` shows it, after a change to it.
    func summary(uuid: String, name: String) async throws -> VMSummary {
        guard let summary = try await vmList().first(where: { $0.uuid == uuid }) else {
            throw APIError.notFound("VM \(name) vanished", hint: "list VMs with 'vigil vm list'")
        }
        return summary
    }

    /// Carries out a power action and returns the VM as it is afterwards.
    public func power(vm: String, _ request: PowerRequest) async throws -> VMSummary {
        let conn = try connection()
        let (uuid, name) = try await executor.run { () throws -> (String, String) in
            let dom = try conn.domain(nameOrUUID: vm)
            try PowerControl.perform(request.action, force: request.force ?? false, on: dom)
            return (dom.uuid, dom.name)
        }
        events.record(vmUUID: uuid, vmName: name, kind: "admin", message: "\(request.action.rawValue) requested",
                      action: request.action.rawValue, outcome: "succeeded")
        return try await summary(uuid: uuid, name: name)
    }

    public func setAutostart(vm: String, enabled: Bool) async throws -> VMSummary {
        let conn = try connection()
        let uuid = try await executor.run { () throws -> String in
            let dom = try conn.domain(nameOrUUID: vm)
            try dom.setAutostart(enabled)
            return dom.uuid
        }
        return try await summary(uuid: uuid, name: vm)
    }
}

// MARK: - create

extension MonitorService {
    /// Creates disks and defines the VM as a journalled operation: anything
    /// failing, or vigild dying halfway, leaves no half-made VM and no
    /// orphaned disk (undone at once, or at the next start).
    public func createVM(_ request: VMCreateRequest) async throws -> VMSummary {
        let problems = VMBuilder.problems(request)
        guard problems.isEmpty else {
            throw APIError.badRequest("cannot create VM: " + problems.joined(separator: "; "), hint: "see 'vigil vm create --help'")
        }
        let conn = try connection()
        try await executor.run {
            if (try? conn.domain(named: request.name)) != nil {
                throw APIError.conflict("a VM named \(request.name) exists", hint: "choose another name")
            }
            let taken = request.disks.indices.filter { request.disks[$0].pool == nil }.map { VMBuilder.diskPath(request, $0) }
                .filter { FileManager.default.fileExists(atPath: $0) }
            let pools = PoolDisks.problems(request, conn)
            if !taken.isEmpty || !pools.isEmpty {
                throw APIError.conflict("cannot create VM: " + (taken.map { "\($0) already exists" } + pools).joined(separator: "; "),
                                        hint: "Vigil never overwrites a disk: choose another name or place")
            }
        }
        let uuid = UUID().uuidString.lowercased(), uri = config.libvirtURI
        let op = try await operations.start(kind: "create", target: request.name, cancellable: false) { ctx in
            var paths: [String] = []
            for (i, d) in request.disks.enumerated() {
                if let pool = d.pool {
                    try ctx.willDo(.deleteVolume(pool: pool, volume: VMBuilder.diskName(request, i), uri: uri))
                    let volume = try await self.executor.run { try PoolDisks.create(request, i, conn) }
                    paths.append(try volume.path())
                } else {
                    let path = VMBuilder.diskPath(request, i)
                    try ctx.willCreate(file: path)
                    try await DiskImage.createNew(path, sizeBytes: VMBuilder.diskBytes(d.sizeGiB))
                    paths.append(path)
                }
            }
            let xml = VMBuilder.xml(request, diskPaths: paths, uuid: uuid)
            try ctx.willDo(.undefineDomain(uuid: uuid, uri: uri))
            try await self.executor.run {
                let dom = try conn.define(xml: xml)
                if request.start == true { try dom.create() }
            }
            return request.name
        }
        let end = try await operations.wait(id: op.id, seconds: 120)
        guard let end, end.state == .succeeded else {
            throw APIError(.internalServerError, "cannot create VM \(request.name): \(end?.error ?? "still running (operation \(op.id))")",
                           hint: "see 'vigil op show \(op.id)'; nothing was left behind")
        }
        events.record(vmUUID: uuid, vmName: request.name, kind: "admin",
                      message: "created: \(request.vcpus) vCPU, \(request.memoryMiB) MiB, \(request.disks.count) disk(s), \(request.nics.count) NIC(s)",
                      action: "create", outcome: "succeeded")
        return try await summary(uuid: uuid, name: request.name)
    }
}
