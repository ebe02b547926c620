import Core

extension FailureCause {
    /// A short machine-readable name for the event log.
    var code: String {
        switch self {
        case .panic: "panic"
        case .crash: "crash"
        case .heartbeatLoss: "heartbeat-loss"
        case .watchdog: "watchdog"
        }
    }
}
