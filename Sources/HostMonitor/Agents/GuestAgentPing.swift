import Core
import Foundation
import Libvirt
import Logging

/// Heartbeats for a guest that runs only its distribution's qemu-guest-agent
/// (no Vigil channel): a `guest-ping` through libvirt at the policy's
/// interval, each answer a heartbeat for the same state machine, window,
/// minimum uptime and reset limits as Vigil's agent. Through libvirt rather
/// than a socket of Vigil's own: libvirt owns the guest's
/// `org.qemu.guest_agent.0` channel and syncs each command with the agent, so
/// its own tools (domtime, guestinfo, fsfreeze) keep working beside the pings
/// and the guest needs no change (docs/ARCHITECTURE.md has the comparison).
struct GuestAgentPing: Sendable {
    static let channelName = "org.qemu.guest_agent.0"

    let uuid: String
    let name: String
    let connection: Connection
    let center: ProtectionCenter
    let events: EventLog
    let logger: Logger
    /// The VM also has a Vigil channel: ping only while vigil-agent has not
    /// said hello (not installed, or not started), so qemu-ga protects it.
    var onlyWithoutVigilAgent = false
    /// How long vigil-agent has to say hello before qemu-ga stands in for it
    /// (a booting guest starts both; the Vigil agent, when there, wins).
    var fallbackGrace: Duration = .seconds(20)

    /// What one ping found.
    enum Outcome: Equatable, Sendable {
        case answered
        /// No agent on the port (never started, or stopped cleanly): not a failure.
        case notConnected
        /// The agent did not answer in time: silence, which the window judges.
        case silent
        /// vigild could not ask (libvirtd unreachable, domain gone): not the guest's silence.
        case unknown
    }

    /// libvirt's errors, sorted: the agent's state, or vigild's trouble asking.
    static func outcome(of error: LibvirtError) -> Outcome {
        // A reply to an older command where the sync's was due is the agent's fault too,
        // and so is a wait for the domain's agent job that timed out: only another agent
        // command holds it, and only an agent that does not answer makes that one last.
        guard [.agentUnresponsive, .agentUnsynced, .operationTimeout].contains(error.code) else { return .unknown }
        return error.message.contains("not connected") ? .notConnected : .silent
    }

    func run() async {
        guard let dom = try? await OwnThread.run({ [connection, uuid] in try connection.domain(uuid: uuid) }) else { return }
        var connected = false
        if onlyWithoutVigilAgent { try? await Task.sleep(for: fallbackGrace) }
        while !Task.isCancelled {
            let tracked = await center.tracked(uuid)
            let policy = tracked?.machine.policy
            if onlyWithoutVigilAgent, tracked?.hello != nil {
                // vigil-agent watches it; look again later (it may be removed).
                try? await Task.sleep(for: .seconds(5))
                continue
            }
            let intervalMs = policy?.heartbeatIntervalMs ?? 1000
            let began = ContinuousClock.now
            // Longer than the window makes no difference; shorter than a second libvirt cannot do.
            let timeout = Int32(max(1, (intervalMs + 999) / 1000))
            switch await ping(dom, timeout: timeout) {
            case .answered:
                let version = connected ? nil : await guestInfoVersion(dom)
                if await center.guestAgentAnswered(uuid, version: version, at: .now) {
                    events.guestAgentAnswered(vmUUID: uuid, version: version)
                    events.record(vmUUID: uuid, vmName: name, kind: "agent",
                                  message: "qemu-guest-agent\(version.map { " \($0)" } ?? "") answers; protected by a ping every \(intervalMs) ms")
                }
                connected = true
            case .notConnected:
                if await center.guestAgentGone(uuid) {
                    events.markAgent(vmUUID: uuid, alive: false)
                    events.record(vmUUID: uuid, vmName: name, kind: "agent",
                                  message: "qemu-guest-agent left the channel (stopped in the guest): not protected until it answers again")
                }
                connected = false
            case .silent:
                break
            case .unknown:
                // Not the guest's silence: give it the window again once vigild can ask.
                let window = Duration.milliseconds(policy?.heartbeatWindowMs ?? 5000)
                logger.info("qemu-guest-agent could not be asked: its heartbeat window starts again", metadata: ["vm.name": "\(name)"])
                await center.mutate(uuid) { $0.machine.expectSilence(until: .now + window) }
            }
            let rest = Duration.milliseconds(intervalMs) - began.duration(to: .now)
            if rest > .zero { try? await Task.sleep(for: rest) }
        }
    }

    private func ping(_ dom: Domain, timeout: Int32) async -> Outcome {
        do {
            _ = try await OwnThread.run { try dom.guestAgentCommand(#"{"execute":"guest-ping"}"#, timeoutSeconds: timeout) }
            return .answered
        } catch let e as LibvirtError {
            let outcome = Self.outcome(of: e)
            logger.debug("qemu-guest-agent ping: \(outcome)", metadata: ["vm.name": "\(name)", "error": "\(e)"])
            return outcome
        } catch {
            return .unknown
        }
    }

    /// The agent's version from `guest-info` (nil when it does not say).
    private func guestInfoVersion(_ dom: Domain) async -> String? {
        guard let reply = try? await OwnThread.run({ try dom.guestAgentCommand(#"{"execute":"guest-info"}"#, timeoutSeconds: 2) }),
              let object = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any],
              let result = object["return"] as? [String: Any], let version = result["version"] as? String else { return nil }
        return String(version.prefix(64))
    }
}
