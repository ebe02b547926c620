import Core
import Logging

/// vigild's settings, from its command line and `vigild.yaml`
/// (`init(settings:)`, in `Config/`).
public struct DaemonConfig: Sendable {
    public var libvirtURI: String
    public var stateDirectory: String
    public var socketPath: String
    /// Policy for VMs that have none of their own.
    public var defaultPolicy: ProtectionPolicy
    /// Other hosts of the cluster (libvirt URIs) for the migrate policy.
    public var peers: [String]
    /// Directories every peer sees at the same path.
    public var sharedStorage: [String]
    /// How often to re-read every domain's state as a safety net for
    /// missed events (libvirt's events drive everything else).
    public var reconcileIntervalMs: Int
    /// Every how many of those passes definitions are read afresh too
    /// (catches metadata changed behind vigild's back, which has no event).
    public var refetchEvery = 10
    /// After a restart, how long an adopted agent may stay silent while its
    /// session reconnects and says hello again (added to its own window).
    public var adoptGraceMs = 5000
    /// After a restart that cut a recovery short, how long the guest may
    /// take to boot and say hello before silence counts as a new hang.
    public var recoveryBootGraceSeconds = 120
    /// How often guest clocks are resynced (besides after resume, restore and boot).
    public var timeSyncIntervalSeconds: Int = 900
    /// Public keys whose signatures the agent repository requires (none: hash only; agents still check).
    public var agentTrustKeyFiles: [String] = []
    /// How long a new agent build may take to come up before the guest rolls back.
    public var agentUpgradeTimeoutMs: Int = 30_000
    /// How long deleted VMs stay in the recycle bin (nil: until purged by hand).
    public var recycleRetentionSeconds: Double?
    /// How long and how many events the event log keeps (`EventRetention`).
    public var eventRetentionDays = 400.0
    public var eventMaxCount = 2_000_000
    /// Bandwidth cap for disk copies (clones, templates), MiB/s; nil: none.
    public var copyRateLimitMiBs: Int?
    /// Where backups go by default, scratch space, and how SSH destinations are reached.
    public var backups = BackupSettings()
    /// Where templates live (one directory each); on shared storage, all hosts see them.
    public var templateDirectory: String?
    /// Default directory for the disks of VMs deployed from templates.
    public var vmDirectory = "/var/lib/libvirt/images"
    public var logLevel: Logger.Level = .info
    /// Where `/metrics` is served (Prometheus text format); nil: not served.
    public var metricsAddress: ListenAddress?
    /// The API over TCP with TLS and tokens; nil: the unix socket only.
    public var remoteAPI: RemoteAPIConfig?
    /// Cluster HA on etcd; nil: a single host.
    public var cluster: ClusterSettings?

    /// `templateDirectory`, or `templates` under the state directory.
    public var templateRoot: String { templateDirectory ?? stateDirectory + "/templates" }

    public init(libvirtURI: String = "qemu:///system", stateDirectory: String = "/var/lib/vigil",
                socketPath: String = "/run/vigil/vigild.sock", defaultPolicy: ProtectionPolicy = .init(),
                peers: [String] = [], sharedStorage: [String] = [], reconcileIntervalMs: Int = 30_000) {
        self.libvirtURI = libvirtURI
        self.stateDirectory = stateDirectory
        self.socketPath = socketPath
        self.defaultPolicy = defaultPolicy
        self.peers = peers
        self.sharedStorage = sharedStorage
        self.reconcileIntervalMs = reconcileIntervalMs
    }
}
