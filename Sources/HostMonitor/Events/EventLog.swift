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

    func agentHello(vmUUID: String, vmName: String, hello: AgentMessage.Hello) {
        let previous = try? store.agent(vmUUID: vmUUID)
        if previous?.bootID != hello.bootID || previous?.alive != true {
            record(vmUUID: vmUUID, vmName: vmName, kind: "agent",
                   message: "agent \(hello.agentVersion) connected (\(hello.os), kernel \(hello.kernel), boot \(hello.bootID.prefix(8)))")
        }
        saveAgent(vmUUID: vmUUID, hello: hello, alive: true)
    }

    func agentGoodbye(vmUUID: String, vmName: String, reason: String) {
        record(vmUUID: vmUUID, vmName: vmName, kind: "agent", message: "agent stopped cleanly: \(reason)")
        markAgent(vmUUID: vmUUID, alive: false)
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
