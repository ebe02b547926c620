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

/// Which agent in the guest vigild watches.
public enum GuestAgentKind: String, Codable, Sendable, CaseIterable {
    /// Vigil's own agent on the `org.vigil.agent.0` channel (heartbeats, crash reports).
    case vigilAgent = "vigil-agent"
    /// The distribution's qemu-guest-agent, pinged through libvirt.
    case qemuGA = "qemu-ga"
    /// Nothing answers: the guest OS is not watched.
    case none
}
