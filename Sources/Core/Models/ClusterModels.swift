/// Cluster HA's switch and admission control (`vigil cluster ha on|off …`).
public struct ClusterHAConfig: Codable, Sendable, Equatable {
    public var enabled: Bool
    /// HA acts only while at least this many hosts are live.
    public var minHosts: Int
    /// Hosts kept for failover: restarted VMs go there first.
    public var failoverHosts: [String]
    /// Shares of the cluster's CPUs and memory kept free for failover.
    public var reserveCPUPercent: Int
    public var reserveMemoryPercent: Int

    public init(enabled: Bool = true, minHosts: Int = 1, failoverHosts: [String] = [], reserveCPUPercent: Int = 0,
                reserveMemoryPercent: Int = 0) {
        self.enabled = enabled
        self.minHosts = minHosts
        self.failoverHosts = failoverHosts
        self.reserveCPUPercent = reserveCPUPercent
        self.reserveMemoryPercent = reserveMemoryPercent
    }

    /// What is wrong with it, for a clear refusal (empty: fine).
    public var problems: [String] {
        var p: [String] = []
        if minHosts < 1 { p.append("min-hosts must be at least 1, got \(minHosts)") }
        if !(0...90).contains(reserveCPUPercent) { p.append("reserve-cpu must be 0-90 %, got \(reserveCPUPercent)") }
        if !(0...90).contains(reserveMemoryPercent) { p.append("reserve-memory must be 0-90 %, got \(reserveMemoryPercent)") }
        return p
    }
}

/// A change to it: what is nil stays as it is.
public struct ClusterHARequest: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var minHosts: Int?
    public var failoverHosts: [String]?
    public var reserveCPUPercent: Int?
    public var reserveMemoryPercent: Int?

    public init(enabled: Bool, minHosts: Int? = nil, failoverHosts: [String]? = nil, reserveCPUPercent: Int? = nil,
                reserveMemoryPercent: Int? = nil) {
        self.enabled = enabled
        self.minHosts = minHosts
        self.failoverHosts = failoverHosts
        self.reserveCPUPercent = reserveCPUPercent
        self.reserveMemoryPercent = reserveMemoryPercent
    }
}

public struct ClusterHostStatus: Codable, Sendable, Equatable {
    public var id: String
    public var uri: String?
    /// alive; lease-lost (waiting, isolated or dead: the manager judges); fenced; vigild-stopped.
    public var state: String
    public var manager: Bool
    public var maintenance: Bool
    public var memoryMiB: Int
    public var freeMemoryMiB: Int
    /// Seconds since its storage heartbeat file last changed (nil: none seen).
    public var storageHeartbeatAgeSeconds: Double?
    public var haVMs: Int

    public init(id: String, uri: String?, state: String, manager: Bool, maintenance: Bool, memoryMiB: Int, freeMemoryMiB: Int, storageHeartbeatAgeSeconds: Double?, haVMs: Int) {
        self.id = id
        self.uri = uri
        self.state = state
        self.manager = manager
        self.maintenance = maintenance
        self.memoryMiB = memoryMiB
        self.freeMemoryMiB = freeMemoryMiB
        self.storageHeartbeatAgeSeconds = storageHeartbeatAgeSeconds
        self.haVMs = haVMs
    }
}

public struct ClusterVMStatus: Codable, Sendable, Equatable {
    public var uuid: String
    public var name: String
    /// The host holding its placement.
    public var host: String?
    /// running, starting, failed, fenced, stopped (wanted so), down (HA restarts it).
    public var state: String
    public var priority: HAPriority
    public var memoryMiB: Int
    /// Restarted elsewhere when its host fails (HA on and every disk on shared storage).
    public var protected: Bool
    public var detail: String?

    public init(uuid: String, name: String, host: String?, state: String, priority: HAPriority, memoryMiB: Int, protected: Bool, detail: String?) {
        self.uuid = uuid
        self.name = name
        self.host = host
        self.state = state
        self.priority = priority
        self.memoryMiB = memoryMiB
        self.protected = protected
        self.detail = detail
    }
}

public struct ClusterStatus: Codable, Sendable, Equatable {
    public var cluster: String
    public var host: String
    public var manager: String?
    /// etcd answered this read (it needs a quorum).
    public var quorum: Bool
    public var ha: ClusterHAConfig
    public var hosts: [ClusterHostStatus]
    public var vms: [ClusterVMStatus]
    /// Whether the HA VMs of any one live host would fit on the others within the reserve.
    public var toleratesHostFailure: Bool
    public var tolerance: String

    public init(cluster: String, host: String, manager: String?, quorum: Bool, ha: ClusterHAConfig, hosts: [ClusterHostStatus], vms: [ClusterVMStatus], toleratesHostFailure: Bool, tolerance: String) {
        self.cluster = cluster
        self.host = host
        self.manager = manager
        self.quorum = quorum
        self.ha = ha
        self.hosts = hosts
        self.vms = vms
        self.toleratesHostFailure = toleratesHostFailure
        self.tolerance = tolerance
    }
}

/// One line of the cluster's event log.
public struct ClusterEvent: Codable, Sendable, Equatable {
    public var time: Double
    public var host: String
    public var kind: String
    public var vm: String?
    public var message: String

    public init(time: Double, host: String, kind: String, vm: String?, message: String) {
        self.time = time
        self.host = host
        self.kind = kind
        self.vm = vm
        self.message = message
    }
}

public struct ClusterEventList: Codable, Sendable, Equatable {
    public var events: [ClusterEvent]
    public init(events: [ClusterEvent]) { self.events = events }
}
