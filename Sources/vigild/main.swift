import ArgumentParser
import Core
import Foundation
import HostMonitor
import Logging

@main
struct Vigild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigild",
        abstract: "Vigil host monitor: watches guests on this hypervisor, recovers failed ones, and serves the vigil API.",
        discussion: """
            Every option can also be set in the configuration file (default /etc/vigil/vigild.yaml, \
            or --config FILE): its key is the option's long name without '--' (e.g. 'state-dir: /srv/vigil'; \
            repeatable options take a list). The command line overrides the file. SIGHUP reloads the file: \
            log-level, event-retention-days and event-max-count change at once, the rest on the next start \
            (docs/operations.md).

            Options named --default-* set the protection policy of VMs that have none of their own \
            (set one with 'vigil policy set VM ...').
            """)

    @Option(name: .long, help: "Configuration file (default: /etc/vigil/vigild.yaml, if it exists).")
    var config: String?

    @Option(name: .long, help: "libvirt connection URI (default: qemu:///system).")
    var connect: String?

    @Option(name: .long, help: "Directory for vigild's state database (default: /var/lib/vigil).")
    var stateDir: String?

    @Option(name: .long, help: "Unix socket the API listens on (default: /run/vigil/vigild.sock).")
    var socket: String?

    @Option(name: .long, help: "Another cluster host's libvirt URI, for the migrate policy (repeatable).")
    var peer: [String] = []

    @Option(name: .long, help: "A directory every cluster host mounts at the same path (repeatable).")
    var sharedStorage: [String] = []

    @Option(name: .long, help: "etcd client URLs of the cluster, comma-separated or repeated: joins cluster HA (needs --shared-storage).")
    var clusterEndpoints: [String] = []

    @Option(name: .long, help: "Cluster name: the etcd key prefix, so clusters can share one etcd (default: vigil).")
    var clusterName: String?

    @Option(name: .long, help: "This host's name in the cluster (default: its hostname).")
    var clusterHost: String?

    @Option(name: .long, help: "Host lease TTL in seconds, 5-60: a host that cannot renew it fences its HA VMs before it runs out (default: 5).")
    var clusterLeaseTtl: Int?

    @Option(name: .long, help: "MiB of memory this host offers VMs, for HA placement and admission control (default: all of it).")
    var clusterMemory: Int?

    @Option(name: .long, help: "Default action on guest failure: ignore, restart or migrate (default: restart).")
    var defaultOnCrash: String?

    @Option(name: .long, help: "Default agent heartbeat interval in seconds, 0.1-60 (default: 1).")
    var defaultHeartbeatInterval: Double?

    @Option(name: .long, help: "Default number of missed heartbeats that make a guest hung (default: 5).")
    var defaultMisses: Int?

    @Option(name: .long, help: "Default seconds after boot before heartbeat loss counts (default: 60).")
    var defaultMinUptime: Int?

    @Option(name: .long, help: "Default maximum recoveries per window (default: 3).")
    var defaultMaxResets: Int?

    @Option(name: .long, help: "Default reset-limit window in seconds (default: 3600).")
    var defaultWindow: Int?

    @Option(name: .long, help: "Seconds between periodic guest clock syncs, 10-86400 (default: 900; clocks are also synced after boot, resume, restore and migration).")
    var timeSyncInterval: Int?

    @Option(name: .long, help: "Ed25519 public key (base64 file, from 'vigil agent keygen') that agent packages must be signed with (repeatable).")
    var agentTrustKey: [String] = []

    @Option(name: .long, help: "Seconds a new agent build may take to start and handshake before the guest rolls it back, 5-300 (default: 30).")
    var agentUpgradeTimeout: Int?

    @Option(name: .long, help: "Days a deleted VM stays in the recycle bin before it is purged (fractions allowed; default: until purged by hand).")
    var recycleRetentionDays: Double?

    // For tests: the same in seconds.
    @Option(name: .long, help: .hidden)
    var recycleRetentionSeconds: Double?

    @Option(name: .long, help: "Days events stay in the event log, fractions allowed (default: 400).")
    var eventRetentionDays: Double?

    @Option(name: .long, help: "Most events the event log keeps, at least 1000; the oldest beyond it are removed (default: 2000000).")
    var eventMaxCount: Int?

    @Option(name: .long, help: "Bandwidth cap for disk copies of clones and templates, in MiB/s (default: none), so copies do not starve running VMs' I/O.")
    var copyRateLimit: Int?

    @Option(name: .long, help: "Directory of VM templates (default: STATE_DIR/templates); put it on shared storage to share templates across hosts.")
    var templateDir: String?

    @Option(name: .long, help: "Default backup destination: a directory, or ssh://[USER@]HOST[:PORT]/PATH (default: none; each 'vigil backup create' then names one).")
    var backupDestination: String?

    @Option(name: .long, help: "Scratch directory for backup data on its way to a remote, compressed or rate-limited destination, and for restores from one (default: STATE_DIR/backup-tmp).")
    var backupTempDir: String?

    @Option(name: .long, help: "SSH private key for ssh:// backup destinations (default: ssh's own, ~/.ssh/id_*). vigild never prompts for a password.")
    var backupSshIdentity: String?

    @Option(name: .long, help: "known_hosts file for ssh:// backup destinations (default: ssh's own); unknown host keys are refused.")
    var backupSshKnownHosts: String?

    @Option(name: .long, help: "Default directory for the disks of VMs deployed from templates (default: /var/lib/libvirt/images).")
    var vmDir: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (default: info).")
    var logLevel: String?

    @Option(name: .long, help: "HOST:PORT to serve Prometheus metrics on at /metrics, e.g. 127.0.0.1:9477 (default: not served).")
    var metricsAddress: String?

    @Option(name: .long, help: "HOST:PORT for the API over TCP with TLS; needs --tls-cert and --tls-key, and a token or client certificate on every request (default: the unix socket only).")
    var apiAddress: String?

    @Option(name: .long, help: "PEM certificate (chain) of the TLS API listener.")
    var tlsCert: String?

    @Option(name: .long, help: "PEM private key of the TLS API listener.")
    var tlsKey: String?

    @Option(name: .long, help: "PEM CA certificate(s): clients with a certificate it signed need no token (admin role).")
    var tlsClientCa: String?

    /// What the command line set; the config file fills in the rest.
    var commandLine: ConfigLayer {
        var layer = ConfigLayer()
        let strings: [(String, String?)] = [
            ("connect", connect), ("state-dir", stateDir), ("socket", socket), ("default-on-crash", defaultOnCrash),
            ("template-dir", templateDir), ("vm-dir", vmDir), ("backup-destination", backupDestination),
            ("backup-temp-dir", backupTempDir), ("backup-ssh-identity", backupSshIdentity),
            ("backup-ssh-known-hosts", backupSshKnownHosts), ("log-level", logLevel),
            ("metrics-address", metricsAddress), ("api-address", apiAddress), ("tls-cert", tlsCert),
            ("tls-key", tlsKey), ("tls-client-ca", tlsClientCa), ("cluster-name", clusterName), ("cluster-host", clusterHost)]
        let integers: [(String, Int?)] = [
            ("default-misses", defaultMisses), ("default-min-uptime", defaultMinUptime),
            ("default-max-resets", defaultMaxResets), ("default-window", defaultWindow),
            ("time-sync-interval", timeSyncInterval), ("agent-upgrade-timeout", agentUpgradeTimeout),
            ("event-max-count", eventMaxCount), ("copy-rate-limit", copyRateLimit),
            ("cluster-lease-ttl", clusterLeaseTtl), ("cluster-memory", clusterMemory)]
        let numbers: [(String, Double?)] = [
            ("default-heartbeat-interval", defaultHeartbeatInterval), ("recycle-retention-days", recycleRetentionDays),
            ("recycle-retention-seconds", recycleRetentionSeconds), ("event-retention-days", eventRetentionDays)]
        let lists: [(String, [String])] = [("peer", peer), ("shared-storage", sharedStorage), ("agent-trust-key", agentTrustKey),
                                              ("cluster-endpoints", clusterEndpoints)]
        for (key, v) in strings { if let v { layer.set(key, .string(v)) } }
        for (key, v) in integers { if let v { layer.set(key, .integer(v)) } }
        for (key, v) in numbers { if let v { layer.set(key, .number(v)) } }
        for (key, v) in lists where !v.isEmpty { layer.set(key, .list(v)) }
        return layer
    }

    func run() async throws {
        let source = ConfigSource(path: config ?? ConfigFile.defaultPath, required: config != nil, commandLine: commandLine)
        let daemonConfig: DaemonConfig
        do {
            daemonConfig = try source.resolve()
        } catch {
            FileHandle.standardError.write(Data("vigild: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let live = LiveSettings(daemonConfig)
        LoggingSystem.bootstrap { label in ReloadableLogHandler(label: label, live: live) }
        let logger = Logger(label: "vigild")
        do {
            try await Daemon(config: daemonConfig, logger: logger, source: source, live: live).run()
        } catch let error as DaemonError {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }
}
