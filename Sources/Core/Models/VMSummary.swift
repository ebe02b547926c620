/// One VM as `vigil vm list` shows it.
public struct VMSummary: Codable, Sendable, Equatable {
    public var name: String
    public var uuid: String
    /// libvirt state, e.g. "running", "shutoff", "crashed".
    public var state: String
    /// libvirt's reason for the state, e.g. "booted", "panicked".
    public var stateReason: String
    public var agent: AgentState
    /// From the agent's hello, when one arrived.
    public var agentVersion: String?
    /// Which agent protects it (nil from an older vigild).
    public var agentKind: GuestAgentKind?
    public var guestOS: String?
    /// Started with the host (libvirt autostart).
    public var autostart: Bool?

    public init(name: String, uuid: String, state: String, stateReason: String, agent: AgentState,
                agentVersion: String? = nil, guestOS: String? = nil, autostart: Bool? = nil, agentKind: GuestAgentKind? = nil) {
        self.agentKind = agentKind
        self.autostart = autostart
        self.name = name
        self.uuid = uuid
        self.state = state
        self.stateReason = stateReason
        self.agent = agent
        self.agentVersion = agentVersion
        self.guestOS = guestOS
    }
}

/// The host as `vigil host info` shows it.
public struct HostInfo: Codable, Sendable, Equatable {
    public var hostname: String
    public var hostUUID: String
    public var libvirtURI: String
    public var libvirtConnected: Bool
    public var libvirtVersion: String
    /// The hypervisor driver (QEMU, Test, …) and its own version.
    public var driver: String
    public var hypervisorVersion: String?
    public var cpus: Int
    public var memoryMiB: UInt64
    public var freeMemoryMiB: UInt64
    public var vigildVersion: String
    public var domains: Int
    public var protectedDomains: Int

    public init(hostname: String, hostUUID: String, libvirtURI: String, libvirtConnected: Bool,
                libvirtVersion: String, driver: String, hypervisorVersion: String? = nil, cpus: Int, memoryMiB: UInt64, freeMemoryMiB: UInt64,
                vigildVersion: String, domains: Int, protectedDomains: Int) {
        self.hostname = hostname
        self.hostUUID = hostUUID
        self.libvirtURI = libvirtURI
        self.libvirtConnected = libvirtConnected
        self.libvirtVersion = libvirtVersion
        self.driver = driver
        self.hypervisorVersion = hypervisorVersion
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.freeMemoryMiB = freeMemoryMiB
        self.vigildVersion = vigildVersion
        self.domains = domains
        self.protectedDomains = protectedDomains
    }
}

/// The body of every API error: what went wrong and what to do about it.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public var hint: String?

    public init(error: String, hint: String? = nil) {
        self.error = error
        self.hint = hint
    }
}

public enum VigilVersion {
    public static let current = "0.1.0"
}
