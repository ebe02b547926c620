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
}
