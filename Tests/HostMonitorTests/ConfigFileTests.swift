import Core
import HostMonitor
import Foundation
import Testing
import TestSupport

/// `vigild.yaml`: parsing, the command line laid over it, and errors that
/// name the file, the line and the key.
@Suite struct ConfigFileTests {
    let path = "/etc/vigil/vigild.yaml"

    func config(_ yaml: String, commandLine: ConfigLayer = ConfigLayer()) throws -> DaemonConfig {
        try DaemonConfig(settings: commandLine.merged(over: ConfigFile.parse(yaml, path: path)))
    }

    func error(_ yaml: String) -> ConfigError? {
        do {
            _ = try config(yaml)
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            return nil
        }
    }

    @Test func everyKeyOfAFullFileIsApplied() throws {
        let c = try config("""
            # comments are fine
            connect: qemu+tcp://h1/system
            state-dir: /srv/vigil
            socket: /run/v.sock
            peer: [qemu+tcp://h2/system, qemu+tcp://h3/system]
            shared-storage:
              - /srv/vms
            default-on-crash: ignore
            default-heartbeat-interval: 0.5
            default-misses: 7
            default-min-uptime: 30
            default-max-resets: 2
            default-window: 600
            time-sync-interval: 60
            agent-trust-key: /etc/vigil/release.key.pub
            agent-upgrade-timeout: 40
            recycle-retention-days: 1.5
            event-retention-days: 30
            event-max-count: 5000
            copy-rate-limit: 100
            template-dir: /srv/templates
            vm-dir: /srv/vms
            backup-destination: ssh://backup@b1:2222/srv/vigil
            backup-temp-dir: /srv/scratch
            backup-ssh-identity: /etc/vigil/backup_key
            backup-ssh-known-hosts: /etc/vigil/known_hosts
            log-level: debug
            metrics-address: 127.0.0.1:9477
            api-address: "[::1]:8443"
            tls-cert: /etc/vigil/tls/cert.pem
            tls-key: /etc/vigil/tls/key.pem
            tls-client-ca: /etc/vigil/tls/ca.pem
            cluster-endpoints: [http://127.0.0.11:2379, http://127.0.0.12:2379]
            cluster-name: lab-a
            cluster-host: cvk9
            cluster-lease-ttl: 8
            cluster-memory: 4096
            """)
        #expect(c.libvirtURI == "qemu+tcp://h1/system" && c.stateDirectory == "/srv/vigil" && c.socketPath == "/run/v.sock")
        #expect(c.peers == ["qemu+tcp://h2/system", "qemu+tcp://h3/system"] && c.sharedStorage == ["/srv/vms"])
        #expect(c.defaultPolicy == ProtectionPolicy(onCrash: .ignore, heartbeatIntervalMs: 500, misses: 7,
                                                    minUptimeSeconds: 30, maxResets: 2, windowSeconds: 600))
        #expect(c.timeSyncIntervalSeconds == 60 && c.agentTrustKeyFiles == ["/etc/vigil/release.key.pub"])
        #expect(c.agentUpgradeTimeoutMs == 40_000 && c.recycleRetentionSeconds == 1.5 * 86_400)
        #expect(c.eventRetentionDays == 30 && c.eventMaxCount == 5000 && c.copyRateLimitMiBs == 100)
        #expect(c.templateRoot == "/srv/templates" && c.vmDirectory == "/srv/vms" && c.logLevel == .debug)
        #expect(c.metricsAddress == ListenAddress("127.0.0.1:9477"))
        #expect(c.cluster == ClusterSettings(endpoints: ["http://127.0.0.11:2379", "http://127.0.0.12:2379"], name: "lab-a",
                                             hostID: "cvk9", leaseTTLSeconds: 8, memoryMiB: 4096))
        #expect(c.backups.destination == "ssh://backup@b1:2222/srv/vigil" && c.backups.tempDirectory == "/srv/scratch")
        #expect(c.backups.ssh == SSHSettings(identity: "/etc/vigil/backup_key", knownHosts: "/etc/vigil/known_hosts"))
        #expect(c.remoteAPI == RemoteAPIConfig(address: try #require(ListenAddress("[::1]:8443")),
                                               certificatePath: "/etc/vigil/tls/cert.pem",
                                               privateKeyPath: "/etc/vigil/tls/key.pem",
                                               clientCAPath: "/etc/vigil/tls/ca.pem"))
        #expect(c.remoteAPI?.address.host == "::1" && c.remoteAPI?.address.port == 8443)
    }

    @Test func anEmptyFileGivesTheDefaults() throws {
        let c = try config("# nothing set\n")
        let d = DaemonConfig()
        #expect(c.libvirtURI == d.libvirtURI && c.stateDirectory == d.stateDirectory && c.socketPath == d.socketPath)
        #expect(c.defaultPolicy == d.defaultPolicy && c.eventMaxCount == d.eventMaxCount && c.logLevel == .info)
        #expect(c.metricsAddress == nil && c.remoteAPI == nil && c.recycleRetentionSeconds == nil)
    }

    @Test func theCommandLineOverridesTheFile() throws {
        var cli = ConfigLayer()
        cli.set("default-misses", .integer(9))
        cli.set("peer", .list(["qemu+tcp://cli/system"]))
        let c = try config("default-misses: 7\ndefault-window: 600\npeer: qemu+tcp://file/system\n", commandLine: cli)
        #expect(c.defaultPolicy.misses == 9)
        #expect(c.defaultPolicy.windowSeconds == 600)
        #expect(c.peers == ["qemu+tcp://cli/system"])
    }

    @Test func wrongValuesNameTheLineAndTheKey() {
        #expect(error("connect: test:///default\ndefault-misses: five\n")?.description
                == "/etc/vigil/vigild.yaml line 2: key 'default-misses': expected a whole number, got 'five'")
        #expect(error("\n\nevent-max-count: 10\n")?.place == "/etc/vigil/vigild.yaml line 3: key 'event-max-count'")
        #expect(error("default-on-crash: reboot\n")?.problem == "must be one of ignore, restart, migrate, got 'reboot'")
        #expect(error("metrics-address: localhost\n")?.problem.contains("HOST:PORT") == true)
        #expect(error("default-misses: 0\n")?.description
                == "/etc/vigil/vigild.yaml line 1: key 'default-misses': misses must be 1 to 100, got 0")
        #expect(error("peer:\n  a: b\n")?.problem == "expected a list")
        #expect(error("socket: [a, b]\n")?.problem == "expected a single value, got a list")
        #expect(error("time-sync-interval: 5\n")?.problem == "must be 10 to 86400 seconds, got 5")
    }

    @Test func unknownKeysAreRefusedWithTheNearestKnownOne() {
        let e = error("connect: test:///default\nstate_dir: /srv\n")
        #expect(e?.place == "/etc/vigil/vigild.yaml line 2: key 'state_dir'")
        #expect(e?.problem == "unknown key")
        #expect(e?.hint == "did you mean 'state-dir'?")
        #expect(error("frobnicate: 1\n")?.hint?.contains("vigild --help") == true)
        #expect(error("socket: a\nsocket: b\n")?.problem.contains("duplicated key(s): 'socket'") == true)
    }

    @Test func badYAMLNamesTheLine() {
        let e = error("connect: test:///default\nsocket: [unclosed\nvm-dir: /x\n")
        #expect(e?.place.hasPrefix("/etc/vigil/vigild.yaml line ") == true, "\(String(describing: e))")
        #expect(e?.problem.hasPrefix("not valid YAML") == true)
        #expect(error("- just\n- a list\n")?.problem == "the file must be a mapping of settings")
    }

    @Test func tlsSettingsGoTogether() {
        #expect(error("api-address: 127.0.0.1:8443\n")?.problem == "the remote API needs tls-cert and tls-key")
        #expect(error("tls-cert: /c.pem\n")?.problem == "only used with api-address")
    }

    @Test func clusterSettingsAreChecked() {
        #expect(error("cluster-endpoints: http://127.0.0.11:2379\n")?.problem == "cluster HA needs shared storage")
        #expect(error("shared-storage: /srv\ncluster-endpoints: 127.0.0.11:2379\n")?.problem == "'127.0.0.11:2379' is not an etcd client URL")
        #expect(error("cluster-name: a\n")?.problem == "only used with cluster-endpoints")
        #expect(error("shared-storage: /srv\ncluster-endpoints: http://e:2379\ncluster-lease-ttl: 3\n")?.problem.contains("5") == true)
        #expect(error("shared-storage: /srv\ncluster-endpoints: http://e:2379\ncluster-name: a/b\n")?.problem.contains("letters") == true)
    }

    @Test func commandLineErrorsNameTheOption() {
        var cli = ConfigLayer()
        cli.set("event-max-count", .integer(5))
        #expect(throws: ConfigError("--event-max-count", "must be at least 1000, got 5")) {
            try DaemonConfig(settings: cli)
        }
    }

    @Test func aMissingFileIsAnErrorOnlyWhenNamed() throws {
        #expect(try ConfigFile.load(path: "/nonexistent/vigild.yaml", required: false) == ConfigLayer())
        #expect(throws: ConfigError.self) { try ConfigFile.load(path: "/nonexistent/vigild.yaml", required: true) }
    }

    /// The file the package installs sets nothing: every line is a comment.
    @Test func thePackagedFileParsesToNothing() throws {
        let path = BuiltProducts.repositoryRoot + "/packaging/etc/vigild.yaml"
        #expect(try ConfigFile.load(path: path, required: true) == ConfigLayer())
        // Each commented key is a real one.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let keys = text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("# "), let colon = line.firstIndex(of: ":") else { return nil }
            let key = line[line.index(line.startIndex, offsetBy: 2)..<colon]
            return key.allSatisfy({ $0.isLowercase || $0 == "-" }) ? String(key) : nil
        }
        #expect(!keys.isEmpty && keys.allSatisfy { ConfigKeys.named($0) != nil }, "\(keys)")
        #expect(Set(keys).count >= ConfigKeys.all.count - 1, "only recycle-retention-seconds (for tests) may be missing")
    }
}
