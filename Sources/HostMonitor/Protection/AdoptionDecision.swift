import Foundation

/// How a (re)started vigild takes over a running VM it finds, so that it
/// never acts twice on one failure. The event log is the journal of the
/// protection path: a failure is logged `detected` before its recovery
/// starts, and the recovery when it has ended. Pure: tested over made-up logs.
enum AdoptionDecision: Equatable, Sendable {
    /// As the last vigild saw it: alive (silence measured from now, after
    /// the reconnect grace) when the agent was alive, else waiting for hello.
    case asLastSeen(agentWasAlive: Bool)
    /// A recovery finished and the guest has not said hello since: it is
    /// booting, exactly as the last vigild left it.
    case booting
    /// A recovery was under way when vigild died: the reset may or may not
    /// have happened. Alive, but silence counts only after a boot's time.
    case recoveryInterrupted

    struct Step: Sendable {
        let kind: String
        let outcome: String?
        /// Seconds since 1970.
        let time: Double
        var cause: String? = nil
        var action: String? = nil
    }

    /// - Parameters:
    ///   - lastStep: the VM's newest failure or recovery event within the boot grace.
    ///   - lastHello: when its agent last said hello (seconds since 1970).
    static func decide(agentWasAlive: Bool, lastStep: Step?, lastHello: Double?) -> AdoptionDecision {
        guard let step = lastStep, (lastHello ?? 0) <= step.time else { return .asLastSeen(agentWasAlive: agentWasAlive) }
        switch (step.kind, step.outcome) {
        case ("failure", "detected"): return .recoveryInterrupted
        case ("recovery", "succeeded"): return .booting
        default: return .asLastSeen(agentWasAlive: agentWasAlive)
        }
    }
}
