/// What vigild does when a guest OS fails.
public enum CrashAction: String, Codable, Sendable, CaseIterable {
    /// Record the failure and leave the VM as it is (crashed VMs stay for a dump).
    case ignore
    /// Reset the VM on this host.
    case restart
    /// Start the VM on another cluster host (shared storage only; else restart here).
    case migrate
}

/// A VM's crash-protection settings, stored in its libvirt metadata.
/// Guard rails follow vSphere VM monitoring: a minimum uptime before heartbeat
/// loss counts, and at most `maxResets` recoveries per `windowSeconds`.
public struct ProtectionPolicy: Codable, Sendable, Equatable {
    public var onCrash: CrashAction
    /// Agent heartbeat period.
    public var heartbeatIntervalMs: Int
    /// Heartbeats missed in a row before the guest counts as hung.
    public var misses: Int
    /// Seconds after boot during which heartbeat loss is not a failure.
    public var minUptimeSeconds: Int
    public var maxResets: Int
    public var windowSeconds: Int

    public init(onCrash: CrashAction = .restart, heartbeatIntervalMs: Int = 1000, misses: Int = 5,
                minUptimeSeconds: Int = 60, maxResets: Int = 3, windowSeconds: Int = 3600) {
        self.onCrash = onCrash
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.misses = misses
        self.minUptimeSeconds = minUptimeSeconds
        self.maxResets = maxResets
        self.windowSeconds = windowSeconds
    }

    /// How long the agent may stay silent before the guest counts as hung.
    public var heartbeatWindowMs: Int { heartbeatIntervalMs * misses }

    /// Problems with the values, each saying what is allowed.
    public var problems: [String] {
        var p: [String] = []
        if !(100...60_000).contains(heartbeatIntervalMs) {
            p.append("heartbeat interval must be 0.1 to 60 seconds, got \(Double(heartbeatIntervalMs) / 1000)")
        }
        if !(1...100).contains(misses) { p.append("misses must be 1 to 100, got \(misses)") }
        if !(0...86_400).contains(minUptimeSeconds) { p.append("min uptime must be 0 to 86400 seconds, got \(minUptimeSeconds)") }
        if !(0...1000).contains(maxResets) { p.append("max resets must be 0 to 1000, got \(maxResets)") }
        if !(1...604_800).contains(windowSeconds) { p.append("window must be 1 to 604800 seconds, got \(windowSeconds)") }
        return p
    }
}

/// `GET/PUT /v1/vms/{vm}/policy` body.
public struct PolicyDocument: Codable, Sendable, Equatable {
    public var vm: String
    public var policy: ProtectionPolicy
    /// True when the VM has no policy of its own and the host default applies.
    public var isHostDefault: Bool

    public init(vm: String, policy: ProtectionPolicy, isHostDefault: Bool) {
        self.vm = vm
        self.policy = policy
        self.isHostDefault = isHostDefault
    }
}
