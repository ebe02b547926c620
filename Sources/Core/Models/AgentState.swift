/// What vigild knows of a VM's guest agent.
public enum AgentState: String, Codable, Sendable, CaseIterable {
    /// The domain has no Vigil channel: nothing watches the guest OS.
    case unprotected
    /// The domain is not running.
    case stopped
    /// Channel present, no hello yet (guest booting, agent not started).
    case connecting
    /// Hello received and heartbeats arriving in time.
    case alive
    /// Heartbeats stopped arriving.
    case lost
    /// The agent said goodbye (clean stop inside the guest).
    case departed

    /// A guest is protected when its agent's heartbeat is being watched.
    public var isProtected: Bool { self == .alive }
}
