import Core
import Foundation
import Logging

/// Writes vigild's persistent event log and agent records. A failing write
/// is logged, never fatal: protection must go on with a full disk.
public struct EventLog: Sendable {
    let store: StateStore
    let logger: Logger

    @discardableResult
    public func record(vmUUID: String? = nil, vmName: String? = nil, kind: String, message: String,
                       cause: String? = nil, action: String? = nil, outcome: String? = nil,
                       durationMs: Double? = nil) -> Int64? {
        var e = EventRecord(vmUUID: vmUUID, vmName: vmName, kind: kind, message: message, cause: cause,
                            action: action, outcome: outcome, durationMs: durationMs)
        do {
            try store.db.write { try e.insert($0) }
            return e.id
        } catch {
            logger.error("cannot write event log: \(error)", metadata: ["event.kind": "\(kind)", "event.message": "\(message)"])
            return nil
        }
    }

    /// Saves the agent's record; returns the event to log when the agent is
    /// new, back, or on a new boot (the session logs it within the guest's budget).
    func agentHello(vmUUID: String, hello: AgentMessage.Hello) -> String? {
        let previous = try? store.agent(vmUUID: vmUUID)
        saveAgent(vmUUID: vmUUID, hello: hello, alive: true)
        guard previous?.bootID != hello.bootID || previous?.alive != true else { return nil }
        let message = "agent \(hello.agentVersion) connected (\(hello.os), kernel \(hello.kernel), boot \(hello.bootID.prefix(8)))"
        return message
    }

    /// qemu-guest-agent answered its first ping: remembered like a hello, so
    /// a vigild restarted while the guest hangs still measures its silence.
    func guestAgentAnswered(vmUUID: String, version: String?) {
        let previous = try? store.agent(vmUUID: vmUUID)
        let r = AgentRecord(vmUUID: vmUUID, agentVersion: "qemu-ga \(version ?? "?")", guestOS: previous?.guestOS ?? "", kernel: previous?.kernel ?? "",
                            bootID: previous?.bootID ?? "", lastHello: Date().timeIntervalSince1970, alive: true)
        do { try store.saveAgent(r) } catch { logger.error("cannot save agent record: \(error)") }
    }

    func markAgent(vmUUID: String, alive: Bool) {
        guard var r = try? store.agent(vmUUID: vmUUID), r.alive != alive else { return }
        r.alive = alive
        try? store.saveAgent(r)
    }

    func wasAgentAlive(vmUUID: String) -> Bool {
        (try? store.agent(vmUUID: vmUUID))?.alive ?? false
    }

    private func saveAgent(vmUUID: String, hello: AgentMessage.Hello, alive: Bool) {
        let r = AgentRecord(vmUUID: vmUUID, agentVersion: hello.agentVersion, guestOS: hello.os, kernel: hello.kernel,
                            bootID: hello.bootID, lastHello: Date().timeIntervalSince1970, alive: alive)
        do { try store.saveAgent(r) } catch { logger.error("cannot save agent record: \(error)") }
    }

    /// The newest failure or recovery event of a VM within `window`
    /// seconds: the journal of the protection path (a failure is logged
    /// `detected` before its recovery starts, the recovery when it ended).
    func lastProtectionStep(vmUUID: String, window: TimeInterval) -> EventRecord? {
        let since = Date().addingTimeInterval(-window)
        return (try? store.events(vmUUID: vmUUID, since: since, kinds: ["failure", "recovery"], limit: 1))?.last
    }

    /// The boot its agent last said hello from.
    func lastBootID(vmUUID: String) -> String? {
        (try? store.agent(vmUUID: vmUUID))?.bootID
    }

    /// When the VM's agent last said hello (seconds since 1970).
    func lastHello(vmUUID: String) -> Double? {
        (try? store.agent(vmUUID: vmUUID))?.lastHello
    }

    /// Wall-clock times of this VM's recoveries within `window` seconds.
    func recentRecoveries(vmUUID: String, window: Int) -> [Date] {
        let since = Date().addingTimeInterval(-Double(window))
        return ((try? store.events(vmUUID: vmUUID, since: since, kinds: ["recovery"])) ?? []).map {
            Date(timeIntervalSince1970: $0.time)
        }
    }
}

extension EventRecord {
    var api: VigilEvent {
        VigilEvent(id: id ?? 0, time: time, vmUUID: vmUUID, vmName: vmName, kind: kind, message: message,
                   cause: cause, action: action, outcome: outcome, durationMs: durationMs)
    }
}
