import Foundation
import Logging
import Synchronization

/// Recoveries a killed vigild left between "failure detected" and
/// "recovery logged" with the guest running again: the reset happened or
/// not. The next hello settles it: a new boot means the reset was done and
/// its recovery is logged then; the same boot means it never happened.
final class InterruptedRecoveries: Sendable {
    struct Pending: Sendable, Equatable {
        /// The boot the agent last said hello from before the failure.
        let bootBefore: String?
        let cause: String?
        let action: String?
        /// When the failure was logged (seconds since 1970).
        let detectedAt: Double
    }

    private let pending = Mutex<[String: Pending]>([:])
    private let events: EventLog
    private let logger: Logger

    init(events: EventLog, logger: Logger) {
        self.events = events
        self.logger = logger
    }

    func remember(_ uuid: String, _ p: Pending) {
        pending.withLock { $0[uuid] = p }
    }

    /// Settles a VM's interrupted recovery at a hello from `boot`: returns
    /// it when the guest is on a new boot (the reset was done), nil when
    /// there was none or the reset never happened.
    func settle(_ uuid: String, helloFrom boot: String) -> Pending? {
        guard let p = pending.withLock({ $0.removeValue(forKey: uuid) }) else { return nil }
        return p.bootBefore == boot ? nil : p
    }

    /// The agent said hello from `boot`: logs the recovery a killed vigild
    /// did not, when the guest is on a new boot.
    func helloArrived(_ uuid: String, name: String, boot: String) {
        guard let p = settle(uuid, helloFrom: boot) else { return }
        let took = (Date().timeIntervalSince1970 - p.detectedAt) * 1000
        logger.notice("recovered: restarted on this host (the reset was done before vigild stopped)", metadata: ["vm.name": "\(name)"])
        events.record(vmUUID: uuid, vmName: name, kind: "recovery",
                      message: "restarted on this host (the reset was done before vigild stopped; logged at the guest's first hello)",
                      cause: p.cause, action: p.action, outcome: "succeeded", durationMs: took)
    }
}
