/// One entry of vigild's persistent event log, as the API returns it.
public struct VigilEvent: Codable, Sendable, Equatable {
    public var id: Int64
    /// Seconds since 1970, with sub-millisecond precision.
    public var time: Double
    public var vmUUID: String?
    public var vmName: String?
    /// lifecycle, agent, failure, recovery, alert, policy, libvirt, guest
    public var kind: String
    public var message: String
    public var cause: String?
    public var action: String?
    public var outcome: String?
    public var durationMs: Double?

    public init(id: Int64, time: Double, vmUUID: String?, vmName: String?, kind: String, message: String,
                cause: String?, action: String?, outcome: String?, durationMs: Double?) {
        self.id = id
        self.time = time
        self.vmUUID = vmUUID
        self.vmName = vmName
        self.kind = kind
        self.message = message
        self.cause = cause
        self.action = action
        self.outcome = outcome
        self.durationMs = durationMs
    }
}

/// `GET /v1/events` body.
public struct EventList: Codable, Sendable {
    public var events: [VigilEvent]
    public init(events: [VigilEvent]) { self.events = events }
}

/// `GET /v1/agents` body: one row per VM.
public struct AgentStatus: Codable, Sendable, Equatable {
    public var vm: String
    public var uuid: String
    public var state: AgentState
    public var agentVersion: String?
    public var guestOS: String?
    public var kernel: String?
    public var bootID: String?
    /// Milliseconds since the last heartbeat, when alive or lost.
    public var lastHeartbeatAgeMs: Int?
    public var heartbeatIntervalMs: Int
    /// Which agent protects it (nil from an older vigild).
    public var agentKind: GuestAgentKind?

    public init(vm: String, uuid: String, state: AgentState, agentVersion: String?, guestOS: String?,
                kernel: String?, bootID: String?, lastHeartbeatAgeMs: Int?, heartbeatIntervalMs: Int,
                agentKind: GuestAgentKind? = nil) {
        self.agentKind = agentKind
        self.vm = vm
        self.uuid = uuid
        self.state = state
        self.agentVersion = agentVersion
        self.guestOS = guestOS
        self.kernel = kernel
        self.bootID = bootID
        self.lastHeartbeatAgeMs = lastHeartbeatAgeMs
        self.heartbeatIntervalMs = heartbeatIntervalMs
    }
}
