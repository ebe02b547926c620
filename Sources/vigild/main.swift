import ArgumentParser
import Core
import HostMonitor
import Logging

@main
struct Vigild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigild",
        abstract: "Vigil host monitor: watches guests on this hypervisor, recovers failed ones, and serves the vigil API.",
        discussion: """
            Options named --default-* set the protection policy of VMs that have none of their own \
            (set one with 'vigil policy set VM ...').
            """)

    @Option(name: .long, help: "libvirt connection URI.")
    var connect = "qemu:///system"

    @Option(name: .long, help: "Directory for vigild's state database.")
    var stateDir = "/var/lib/vigil"

    @Option(name: .long, help: "Unix socket the API listens on.")
    var socket = "/run/vigil/vigild.sock"

    @Option(name: .long, help: "Another cluster host's libvirt URI, for the migrate policy (repeatable).")
    var peer: [String] = []

    @Option(name: .long, help: "A directory every cluster host mounts at the same path (repeatable).")
    var sharedStorage: [String] = []

    @Option(name: .long, help: "Default action on guest failure: ignore, restart or migrate.")
    var defaultOnCrash: CrashAction = .restart

    @Option(name: .long, help: "Default agent heartbeat interval in seconds (0.1-60).")
    var defaultHeartbeatInterval: Double = 1

    @Option(name: .long, help: "Default number of missed heartbeats that make a guest hung.")
    var defaultMisses = 5

    @Option(name: .long, help: "Default seconds after boot before heartbeat loss counts.")
    var defaultMinUptime = 60

    @Option(name: .long, help: "Default maximum recoveries per window.")
    var defaultMaxResets = 3

    @Option(name: .long, help: "Default reset-limit window in seconds.")
    var defaultWindow = 3600

    @Option(name: .long, help: "Seconds between periodic guest clock syncs (clocks are also synced after boot, resume, restore and migration).")
    var timeSyncInterval = 900

    @Option(name: .long, help: "Ed25519 public key (base64 file, from 'vigil agent keygen') that agent packages must be signed with (repeatable).")
    var agentTrustKey: [String] = []

    @Option(name: .long, help: "Seconds a new agent build may take to start and handshake before the guest rolls it back (5-300).")
    var agentUpgradeTimeout = 30

    @Option(name: .long, help: "Days a deleted VM stays in the recycle bin before it is purged (fractions allowed; default: until purged by hand).")
    var recycleRetentionDays: Double?

    // For tests: the same in seconds.
    @Option(name: .long, help: .hidden)
    var recycleRetentionSeconds: Double?
    @Option(name: .long, help: "Days events stay in the event log (fractions allowed).")
    var eventRetentionDays: Double = 400

    @Option(name: .long, help: "Most events the event log keeps; the oldest beyond it are removed.")
    var eventMaxCount: Int = 2_000_000

    @Option(name: .long, help: "Bandwidth cap for disk copies of clones and templates, in MiB/s (default: none), so copies do not starve running VMs' I/O.")
    var copyRateLimit: Int?

    @Option(name: .long, help: "Directory of VM templates (default: STATE_DIR/templates); put it on shared storage to share templates across hosts.")
    var templateDir: String?

    @Option(name: .long, help: "Default directory for the disks of VMs deployed from templates.")
    var vmDir = "/var/lib/libvirt/images"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    var defaultPolicy: ProtectionPolicy {
        ProtectionPolicy(onCrash: defaultOnCrash, heartbeatIntervalMs: Int((defaultHeartbeatInterval * 1000).rounded()),
                         misses: defaultMisses, minUptimeSeconds: defaultMinUptime, maxResets: defaultMaxResets,
                         windowSeconds: defaultWindow)
    }

    func validate() throws {
        let problems = defaultPolicy.problems
        guard problems.isEmpty else { throw ValidationError("default policy: " + problems.joined(separator: "; ")) }
        if let copyRateLimit, copyRateLimit < 1 {
            throw ValidationError("--copy-rate-limit must be at least 1 MiB/s, got \(copyRateLimit); leave it out for no cap")
        }
        guard (5...300).contains(agentUpgradeTimeout) else {
            throw ValidationError("--agent-upgrade-timeout must be 5 to 300 seconds, got \(agentUpgradeTimeout)")
        }
        guard (10...86_400).contains(timeSyncInterval) else {
            throw ValidationError("--time-sync-interval must be 10 to 86400 seconds, got \(timeSyncInterval)")
        }
        if let d = recycleRetentionDays, !(d > 0) { throw ValidationError("--recycle-retention-days must be above 0, got \(d)") }
        if let s = recycleRetentionSeconds, !(s > 0) { throw ValidationError("--recycle-retention-seconds must be above 0, got \(s)") }
        guard eventRetentionDays > 0 else { throw ValidationError("--event-retention-days must be above 0, got \(eventRetentionDays)") }
        guard eventMaxCount >= 1000 else { throw ValidationError("--event-max-count must be at least 1000, got \(eventMaxCount)") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "vigild")
        var config = DaemonConfig(libvirtURI: connect, stateDirectory: stateDir, socketPath: socket,
                                  defaultPolicy: defaultPolicy, peers: peer, sharedStorage: sharedStorage)
        config.timeSyncIntervalSeconds = timeSyncInterval
        config.agentTrustKeyFiles = agentTrustKey
        config.agentUpgradeTimeoutMs = agentUpgradeTimeout * 1000
        config.recycleRetentionSeconds = recycleRetentionSeconds ?? recycleRetentionDays.map { $0 * 86_400 }
        config.copyRateLimitMiBs = copyRateLimit
        config.eventRetentionDays = eventRetentionDays
        config.eventMaxCount = eventMaxCount
        config.templateDirectory = templateDir
        config.vmDirectory = vmDir
        do {
            try await Daemon(config: config, logger: logger).run()
        } catch let error as DaemonError {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }
}

extension CrashAction: ExpressibleByArgument {}
