import Core
import Logging

/// Guest clocks in the API (`/v1/vms/{vm}/time…`) and unattended: syncs
/// after boot, resume, restore and periodically, one at a time per VM.
struct TimeService: Sendable {
    let host: HostContext
    let center: ProtectionCenter
    let requests: AgentRequests
    /// Shared by every sync of this vigild (see `ClockSyncGate`).
    let gate: ClockSyncGate
    /// The last offset measured per VM (for `/metrics`).
    let offsets: ClockOffsets

    init(host: HostContext, center: ProtectionCenter, requests: AgentRequests, gate: ClockSyncGate = ClockSyncGate(),
         offsets: ClockOffsets = ClockOffsets()) {
        self.host = host
        self.center = center
        self.requests = requests
        self.gate = gate
        self.offsets = offsets
    }

    var keeper: TimeKeeper {
        TimeKeeper(center: center, requests: requests, events: host.events, logger: host.logger, gate: gate, offsets: offsets)
    }

    /// Measures the guest's clock offset now.
    func status(vm: String) async throws -> TimeStatus {
        let (uuid, name, t) = try await liveAgent(vm)
        let sample = try await agentCall { try await keeper.measure(uuid) }
        return TimeStatus(vm: name, timeSync: t.settings.timeSync, offsetMs: Double(sample.offsetNs) / 1e6,
                          delayMs: Double(sample.delayNs) / 1e6)
    }

    /// Brings the guest clock to the host's time now (stepping it).
    func sync(vm: String) async throws -> TimeStatus {
        let (uuid, name, t) = try await liveAgent(vm)
        var status = try await agentCall { try await keeper.sync(uuid, name: name, reason: "requested", forceStep: true) }
        status.timeSync = t.settings.timeSync
        return status
    }

    /// Syncs a VM's clock when its settings allow and its agent is up;
    /// failures are logged, never thrown (this runs unattended).
    func autoSync(_ uuid: String, reason: String) async {
        guard let t = await center.tracked(uuid), t.settings.timeSync, t.machine.agent == .alive else { return }
        do {
            _ = try await keeper.sync(uuid, name: t.name, reason: reason)
        } catch {
            host.logger.warning("clock sync (\(reason)) failed: \(error)", metadata: ["vm.name": "\(t.name)"])
        }
    }

    /// A resumed guest needs a moment before its agent answers again.
    func scheduleSync(_ uuid: String, reason: String) {
        Task {
            try? await Task.sleep(for: .milliseconds(500))
            await autoSync(uuid, reason: reason)
        }
    }

    /// Resolves a VM to its UUID and name, and checks that its agent is up.
    private func liveAgent(_ vm: String) async throws -> (uuid: String, name: String, tracked: ProtectionCenter.Tracked) {
        let (uuid, name) = try await host.resolve(vm)
        guard let t = await center.tracked(uuid), t.machine.agent == .alive else {
            throw APIError.conflict("VM \(name) has no connected vigil-agent",
                                    hint: "start the VM and check 'vigil agent status \(name)'")
        }
        return (uuid, name, t)
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
