import Foundation

/// How vigild joins the cluster (`cluster-*` settings); nil endpoints: not clustered.
public struct ClusterSettings: Sendable, Equatable {
    /// etcd client URLs (every member, so losing one changes nothing).
    public var endpoints: [String]
    /// Clusters sharing one etcd keep apart by name (their key prefix).
    public var name: String
    /// This host's name in the cluster (default: its hostname).
    public var hostID: String
    /// The host lease's TTL. The renewal loop (1 s) plus two retries (1 s
    /// each) plus the fencing margin must fit in it (Patroni's rule).
    public var leaseTTLSeconds: Int
    /// Memory this host offers VMs (default: all of it), for placement.
    public var memoryMiB: Int?

    public init(endpoints: [String], name: String = "vigil", hostID: String, leaseTTLSeconds: Int = 5, memoryMiB: Int? = nil) {
        self.endpoints = endpoints
        self.name = name
        self.hostID = hostID
        self.leaseTTLSeconds = leaseTTLSeconds
        self.memoryMiB = memoryMiB
    }

    var ttl: Duration { .seconds(leaseTTLSeconds) }
    /// Fencing starts this long before the lease can run out: time to ask
    /// etcd whether it lost quorum everywhere (one call) and to stop VMs.
    var fenceMargin: Duration { .milliseconds(1500) }
    static let loop: Duration = .seconds(1)
    static let retry: Duration = .seconds(1)
    /// The manager's pass and each member's sync while a failover may be
    /// under way (a start placed, a priority waiting for the one before it,
    /// a host's lease gone in the last minute): each priority waits for the
    /// one before to run, and a second per step was most of the wait.
    static let failoverLoop: Duration = .milliseconds(250)
    /// How long after a host's lease went its members keep syncing at `failoverLoop`.
    static let failoverWatch: Duration = .seconds(60)
}
