import Core
import Foundation
import Logging

/// Streams a newer agent build to one guest over its channel: an offer, then
/// chunks one at a time, each acknowledged (so heartbeats keep flowing and a
/// broken transfer resumes from the agent's offset), then waits for the
/// agent to come back with the new version, or to report a rollback.
struct AgentUpgrader: Sendable {
    let center: ProtectionCenter
    let requests: AgentRequests
    let events: EventLog
    let store: StateStore
    let repository: AgentRepository
    let trialTimeoutMs: Int
    let logger: Logger

    /// `POST …/agent/upgrade` reply (one per VM).
    struct Result: Codable, Sendable {
        var vm: String
        var from: String?
        var to: String?
        /// upgraded, up-to-date, refused, rolled-back, failed, not-attempted
        var outcome: String
        var message: String
    }

    func upgrade(uuid: String, name: String) async -> Result {
        guard let t = await center.tracked(uuid), t.machine.agent == .alive, let hello = t.hello else {
            return Result(vm: name, outcome: "failed", message: "the agent is not connected")
        }
        let arch = hello.arch ?? "x86_64"
        guard let entry = repository.newest(arch: arch) else {
            return Result(vm: name, from: hello.agentVersion, outcome: "up-to-date", message: "the repository has no build for \(arch)")
        }
        let target = entry.manifest.version
        guard let mine = AgentVersion(hello.agentVersion), let theirs = AgentVersion(target), mine < theirs else {
            return Result(vm: name, from: hello.agentVersion, to: target, outcome: "up-to-date",
                          message: "the agent runs \(hello.agentVersion); the newest build for \(arch) is \(target)")
        }
        func done(_ outcome: String, _ message: String) -> Result {
            events.record(vmUUID: uuid, vmName: name, kind: "upgrade", message: "agent \(hello.agentVersion) → \(target): \(message)",
                          action: "upgrade", outcome: outcome)
            logger.info("agent upgrade \(hello.agentVersion) → \(target): \(message)", metadata: ["vm.name": "\(name)"])
            return Result(vm: name, from: hello.agentVersion, to: target, outcome: outcome, message: message)
        }
        let began = Date()
        do {
            let binary = try repository.binary(of: entry)
            let send: @Sendable (AgentMessage) async -> Bool = { await center.send(uuid, $0) }
            var id: UInt64 = 0
            var status = try await status(of: requests.request(vm: uuid, what: "the upgrade offer", send: send) { rid in
                id = rid
                return .upgradeOffer(.init(id: rid, manifest: entry.manifest, trialTimeoutMs: trialTimeoutMs))
            })
            while status.state == .accepted || status.state == .receiving {
                let offset = status.offset
                guard offset >= 0 && offset < binary.count else { return done("failed", "the agent asked for byte \(offset) of \(binary.count)") }
                let end = min(offset + AgentProtocol.upgradeChunkBytes, binary.count)
                let data = Data(binary[offset..<end]).base64EncodedString()
                status = try await self.status(of: requests.request(vm: uuid, what: "an upgrade chunk", id: id, timeout: .seconds(15), send: send) { _ in
                    .upgradeChunk(.init(id: id, offset: offset, data: data))
                })
            }
            if status.state == .installing {
                // The agent goes quiet while the new build is on trial.
                let quiet = ContinuousClock.now + .milliseconds(trialTimeoutMs) + .seconds(15)
                await center.mutate(uuid) { $0.machine.expectSilence(until: quiet) }
            }
            switch status.state {
            case .refused:
                return done("refused", "refused by the agent: \((status.reason ?? "no reason given").clipped(300))")
            case .installing:
                break
            default:
                return done("failed", "unexpected answer \(status.state.rawValue)")
            }
        } catch {
            return done("failed", "transfer failed: \(error)")
        }
        // The agent now runs the new build on trial, then switches or rolls back.
        let deadline = Date().addingTimeInterval(Double(trialTimeoutMs) / 1000 + 30)
        while Date() < deadline {
            if let now = await center.tracked(uuid)?.hello?.agentVersion, now == target,
               await center.tracked(uuid)?.machine.agent == .alive {
                return done("upgraded", "upgraded in \(String(format: "%.1f", Date().timeIntervalSince(began))) s")
            }
            if let rollback = try? store.events(vmUUID: uuid, since: began, kinds: ["upgrade"]).first(where: { $0.outcome == "rolled-back" }) {
                return Result(vm: name, from: hello.agentVersion, to: target, outcome: "rolled-back", message: rollback.message)
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return done("failed", "the agent did not come back within \(Int(deadline.timeIntervalSince(began))) s")
    }

    private func status(of reply: AgentRequests.Reply) throws -> AgentMessage.UpgradeStatus {
        guard case .upgradeStatus(let s) = reply.message else { throw UpgradeError("the agent answered with something else") }
        return s
    }

    struct UpgradeError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}
