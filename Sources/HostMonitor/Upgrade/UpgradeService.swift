import Core
import Logging
import Synchronization

/// Agent builds in the API (the repository, one VM's upgrade, staged
/// rollouts) and unattended (auto-upgrade when an agent connects).
final class UpgradeService: Sendable {
    let host: HostContext
    let center: ProtectionCenter
    let requests: AgentRequests
    let repository: AgentRepository
    let trialTimeoutMs: Int
    /// Auto-upgrades that failed, as "uuid@version": not retried by themselves.
    private let failed = Mutex<Set<String>>([])

    init(host: HostContext, center: ProtectionCenter, requests: AgentRequests, repository: AgentRepository, trialTimeoutMs: Int) {
        self.host = host
        self.center = center
        self.requests = requests
        self.repository = repository
        self.trialTimeoutMs = trialTimeoutMs
    }

    var upgrader: AgentUpgrader {
        AgentUpgrader(center: center, requests: requests, events: host.events, store: host.store, repository: repository,
                      trialTimeoutMs: trialTimeoutMs, logger: host.logger)
    }

    func repoList() -> AgentRepository.Listing {
        AgentRepository.Listing(packages: repository.list(), signatureChecked: !repository.trustedKeys.isEmpty)
    }

    func repoAdd(path: String) throws -> AgentPackageManifest {
        do {
            let m = try repository.add(path: path)
            let note = repository.trustedKeys.isEmpty ? " (signature not checked here: vigild has no --agent-trust-key; agents check it)" : ""
            host.events.record(kind: "upgrade", message: "agent \(m.version) for \(m.arch) added to the repository\(note)")
            return m
        } catch let error as PackageError {
            host.events.record(kind: "upgrade", message: "package \(path) refused: \(error)", outcome: "refused")
            host.logger.warning("agent package \(path) refused: \(error)")
            throw APIError.badRequest("package refused: \(error)", hint: "sign release builds with 'vigil agent sign'")
        } catch let error as AgentRepository.RepositoryError {
            throw APIError.badRequest(error.description, hint: "check the file")
        }
    }

    func upgradeAgent(vm: String) async throws -> AgentUpgrader.Result {
        let (uuid, name) = try await host.resolve(vm)
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

    /// Upgrades a VM's agent when its settings ask for it and the repository
    /// has a newer build; a build that failed on this VM is not retried.
    func autoUpgrade(_ uuid: String) async {
        guard let t = await center.tracked(uuid), t.settings.autoUpgrade, let hello = t.hello,
              let entry = repository.newest(arch: hello.arch ?? "x86_64"),
              let mine = AgentVersion(hello.agentVersion), let newest = AgentVersion(entry.manifest.version), mine < newest else { return }
        let key = "\(uuid)@\(entry.manifest.version)"
        guard !failed.withLock({ $0.contains(key) }) else { return }
        let result = await upgrader.upgrade(uuid: uuid, name: t.name)
        if result.outcome != "upgraded" { failed.withLock { _ = $0.insert(key) } }
    }
}
