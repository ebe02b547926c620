import Core
import Foundation
import Logging

extension DaemonConfig {
    /// The configuration from the merged settings (command line over
    /// `vigild.yaml` over the defaults), every value checked.
    public init(settings layer: ConfigLayer) throws(ConfigError) {
        let r = SettingsReader(layer: layer)
        self.init(libvirtURI: r.string("connect") ?? "qemu:///system",
                  stateDirectory: r.string("state-dir") ?? "/var/lib/vigil",
                  socketPath: r.string("socket") ?? "/run/vigil/vigild.sock",
                  defaultPolicy: try Self.defaultPolicy(r),
                  peers: r.list("peer"), sharedStorage: r.list("shared-storage"))
        timeSyncIntervalSeconds = try r.integer("time-sync-interval", default: 900, in: 10...86_400, unit: " seconds")
        agentTrustKeyFiles = r.list("agent-trust-key")
        agentUpgradeTimeoutMs = try r.integer("agent-upgrade-timeout", default: 30, in: 5...300, unit: " seconds") * 1000
        let days = try r.positive("recycle-retention-days")
        recycleRetentionSeconds = try r.positive("recycle-retention-seconds") ?? days.map { $0 * 86_400 }
        eventRetentionDays = try r.positive("event-retention-days") ?? 400
        eventMaxCount = r.integer("event-max-count") ?? 2_000_000
        guard eventMaxCount >= 1000 else {
            throw ConfigError(r.place("event-max-count"), "must be at least 1000, got \(eventMaxCount)")
        }
        if let limit = r.integer("copy-rate-limit"), limit < 1 {
            throw ConfigError(r.place("copy-rate-limit"), "must be at least 1 MiB/s, got \(limit)",
                              hint: "leave it out for no cap")
        }
        copyRateLimitMiBs = r.integer("copy-rate-limit")
        templateDirectory = r.string("template-dir")
        backups = BackupSettings(destination: r.string("backup-destination"),
                                 tempDirectory: r.string("backup-temp-dir") ?? stateDirectory + "/backup-tmp",
                                 ssh: SSHSettings(identity: r.string("backup-ssh-identity"),
                                                  knownHosts: r.string("backup-ssh-known-hosts")))
        vmDirectory = r.string("vm-dir") ?? "/var/lib/libvirt/images"
        logLevel = try r.choice("log-level", default: .info, Logger.Level.init(rawValue:),
                                names: "trace, debug, info, notice, warning, error, critical")
        metricsAddress = try Self.address(r, "metrics-address")
        remoteAPI = try RemoteAPIConfig(r)
        cluster = try Self.cluster(r, sharedStorage: sharedStorage)
    }

    static func cluster(_ r: SettingsReader, sharedStorage: [String]) throws(ConfigError) -> ClusterSettings? {
        // "a,b,c" in one value, as etcdctl takes them, or a list.
        let endpoints = r.list("cluster-endpoints").flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
        guard !endpoints.isEmpty else {
            for key in ["cluster-name", "cluster-host", "cluster-lease-ttl", "cluster-memory"] where r.layer[key] != nil {
                throw ConfigError(r.place(key), "only used with cluster-endpoints", hint: "give the etcd members' client URLs (cluster-endpoints) or leave it out")
            }
            return nil
        }
        for e in endpoints where !(e.hasPrefix("http://") || e.hasPrefix("https://")) || URL(string: e)?.host == nil {
            throw ConfigError(r.place("cluster-endpoints"), "'\(e)' is not an etcd client URL", hint: "e.g. http://10.0.0.11:2379")
        }
        guard !sharedStorage.isEmpty else {
            throw ConfigError(r.place("cluster-endpoints"), "cluster HA needs shared storage",
                              hint: "give shared-storage DIR (every host mounts it at the same path): the storage heartbeat and the HA VMs' disks live there")
        }
        let name = r.string("cluster-name") ?? "vigil"
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw ConfigError(r.place("cluster-name"), "must be letters, digits, - or _, got '\(name)'")
        }
        let host = r.string("cluster-host") ?? ProcessInfo.processInfo.hostName
        guard !host.isEmpty, !host.contains("/") else {
            throw ConfigError(r.place("cluster-host"), "must be a host name without '/', got '\(host)'")
        }
        let ttl = try r.integer("cluster-lease-ttl", default: 5, in: 5...60, unit: " seconds")
        if let m = r.integer("cluster-memory"), m < 256 {
            throw ConfigError(r.place("cluster-memory"), "must be at least 256 MiB, got \(m)")
        }
        return ClusterSettings(endpoints: endpoints, name: name, hostID: host, leaseTTLSeconds: ttl, memoryMiB: r.integer("cluster-memory"))
    }

    static func defaultPolicy(_ r: SettingsReader) throws(ConfigError) -> ProtectionPolicy {
        let action = try r.choice("default-on-crash", default: CrashAction.restart, CrashAction.init(rawValue:),
                                  names: "ignore, restart, migrate")
        let policy = ProtectionPolicy(onCrash: action,
                                      heartbeatIntervalMs: Int(((r.number("default-heartbeat-interval") ?? 1) * 1000).rounded()),
                                      misses: r.integer("default-misses") ?? 5,
                                      minUptimeSeconds: r.integer("default-min-uptime") ?? 60,
                                      maxResets: r.integer("default-max-resets") ?? 3,
                                      windowSeconds: r.integer("default-window") ?? 3600)
        guard policy.problems.isEmpty else {
            let keys = ["default-heartbeat-interval", "default-misses", "default-min-uptime", "default-max-resets",
                        "default-window"].filter { r.layer[$0] != nil }
            throw ConfigError(keys.first.map(r.place) ?? "default policy", policy.problems.joined(separator: "; "))
        }
        return policy
    }

    static func address(_ r: SettingsReader, _ key: String) throws(ConfigError) -> ListenAddress? {
        guard let text = r.string(key) else { return nil }
        guard let address = ListenAddress(text) else {
            throw ConfigError(r.place(key), "must be HOST:PORT (e.g. 127.0.0.1:9477), got '\(text)'")
        }
        return address
    }
}

/// The TCP listener of the API: TLS always, a bearer token or a client
/// certificate on every request (the unix socket needs neither).
public struct RemoteAPIConfig: Sendable, Equatable {
    public var address: ListenAddress
    public var certificatePath: String
    public var privateKeyPath: String
    /// CA whose client certificates are accepted instead of a token.
    public var clientCAPath: String?

    public init(address: ListenAddress, certificatePath: String, privateKeyPath: String, clientCAPath: String? = nil) {
        self.address = address
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.clientCAPath = clientCAPath
    }

    init?(_ r: SettingsReader) throws(ConfigError) {
        let address = try DaemonConfig.address(r, "api-address")
        let cert = r.string("tls-cert"), key = r.string("tls-key")
        guard let address else {
            if cert != nil || key != nil || r.string("tls-client-ca") != nil {
                throw ConfigError(r.place(cert != nil ? "tls-cert" : key != nil ? "tls-key" : "tls-client-ca"),
                                  "only used with api-address", hint: "set api-address (HOST:PORT) too, or leave the TLS settings out")
            }
            return nil
        }
        guard let cert, let key else {
            throw ConfigError(r.place("api-address"), "the remote API needs tls-cert and tls-key",
                              hint: "the TCP listener speaks TLS only; give a certificate and its private key (PEM)")
        }
        self.init(address: address, certificatePath: cert, privateKeyPath: key, clientCAPath: r.string("tls-client-ca"))
    }
}
