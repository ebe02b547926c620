import ArgumentParser
import Core
import FoundationEssentials

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Cluster HA: hosts, HA VMs, the manager's decisions, admission control.",
        discussion: """
            Needs a vigild started with --cluster-endpoints (etcd) and --shared-storage. Every host's vigild \
            answers for the whole cluster.
            """,
        subcommands: [Status.self, Hosts.self, Events.self, HA.self])

    static func status(_ global: GlobalOptions) async throws -> (ClusterStatus, String) {
        let response = try await global.client.get("/v1/cluster")
        return (try response.decode(ClusterStatus.self), response.text)
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Show the cluster: manager, HA settings, hosts, HA VMs, and whether it tolerates a host failure.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let (s, text) = try await ClusterCommand.status(global)
            if global.json { return print(text) }
            print("Cluster".padding(16) + "\(s.cluster) (this host: \(s.host))")
            print("Manager".padding(16) + (s.manager ?? "none elected"))
            let ha = s.ha
            print("HA".padding(16) + (ha.enabled ? "on" : "off") + ", min hosts \(ha.minHosts)"
                + (ha.failoverHosts.isEmpty ? "" : ", failover hosts \(ha.failoverHosts.joined(separator: ","))")
                + ", reserve cpu \(ha.reserveCPUPercent) % memory \(ha.reserveMemoryPercent) %")
            print("Host failure".padding(16) + (s.toleratesHostFailure ? "tolerated" : "NOT tolerated") + ": \(s.tolerance)")
            print()
            print(Hosts.table(s.hosts))
            guard !s.vms.isEmpty else { return print("\nNo HA VMs yet (a running VM with HA on and its disks on shared storage joins by itself).") }
            print()
            print(Table.render(header: ["VM", "HOST", "STATE", "PRIORITY", "MEMORY", "PROTECTED"], rows: s.vms.map {
                [$0.name, $0.host ?? "-", $0.state + ($0.detail.map { " (\($0.prefix(60)))" } ?? ""), $0.priority.rawValue, "\($0.memoryMiB) MiB",
                 $0.protected ? "yes" : "no (HA off or local disks)"]
            }))
        }
    }

    struct Hosts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "hosts", abstract: "List the cluster's hosts and their heartbeats.")
        @OptionGroup var global: GlobalOptions

        static func table(_ hosts: [ClusterHostStatus]) -> String {
            Table.render(header: ["HOST", "STATE", "MANAGER", "STORAGE BEAT", "MEMORY FREE", "HA VMS", "URI"], rows: hosts.map {
                [$0.id, $0.state + ($0.maintenance ? " (maintenance)" : ""), $0.manager ? "yes" : "",
                 $0.storageHeartbeatAgeSeconds.map { TextFormat.fixed($0, places: 1) + " s ago" } ?? "none",
                 $0.memoryMiB > 0 ? "\($0.freeMemoryMiB)/\($0.memoryMiB) MiB" : "-", "\($0.haVMs)", $0.uri ?? "-"]
            })
        }

        func run() async throws {
            let (s, _) = try await ClusterCommand.status(global)
            if global.json { return print(String(decoding: try JSONEncoder().encode(s.hosts), as: UTF8.self)) }
            print(Self.table(s.hosts))
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "events", abstract: "Show the cluster's event log: every HA decision and its timing.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "How many of the newest events (default: 50).") var limit = 50

        func validate() throws {
            guard (1...500).contains(limit) else { throw ValidationError("--limit must be 1-500, got \(limit)") }
        }

        func run() async throws {
            let response = try await global.client.get("/v1/cluster/events?limit=\(limit)")
            if global.json { return print(response.text) }
            let list = try response.decode(ClusterEventList.self)
            if list.events.isEmpty { return print("No cluster events.") }
            for e in list.events {
                print("\(TextFormat.localTime(e.time, millis: true))  \(e.host.padding(8)) \(e.kind.padding(12)) \(e.message)")
            }
        }
    }

    struct HA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ha", abstract: "Switch cluster HA on or off and set admission control.",
            discussion: """
                While on, the manager restarts the HA VMs of a dead host on the others, high priority first, \
                placed by free memory; --min-hosts stops it acting with fewer live hosts; --failover-host \
                hosts are used first and take no VM an administrator starts; --reserve-memory and \
                --reserve-cpu keep that share of the live hosts' memory and CPU threads (counted as the \
                vCPUs of running VMs) free for failover, and a VM start that would break it is refused \
                (failover itself may use it). Options left out stay as they are.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "on or off.") var state: String
        @Option(help: "Live hosts needed before HA acts.") var minHosts: Int?
        @Option(help: "A host kept for failover (repeatable; 'none' clears them).") var failoverHost: [String] = []
        @Option(help: "Percentage of the cluster's CPU threads kept free of vCPUs (0-90).") var reserveCpu: Int?
        @Option(help: "Percentage of the cluster's memory kept free (0-90).") var reserveMemory: Int?

        func validate() throws {
            guard ["on", "off"].contains(state) else { throw ValidationError("ha takes on or off, got '\(state)'") }
            if let minHosts, minHosts < 1 { throw ValidationError("--min-hosts must be at least 1, got \(minHosts)") }
            for (name, v) in [("--reserve-cpu", reserveCpu), ("--reserve-memory", reserveMemory)] {
                if let v, !(0...90).contains(v) { throw ValidationError("\(name) must be 0-90 (a percentage), got \(v)") }
            }
        }

        func run() async throws {
            let hosts: [String]? = failoverHost.isEmpty ? nil : (failoverHost == ["none"] ? [] : failoverHost)
            let request = ClusterHARequest(enabled: state == "on", minHosts: minHosts, failoverHosts: hosts,
                                           reserveCPUPercent: reserveCpu, reserveMemoryPercent: reserveMemory)
            let response = try await global.client.send(method: .PUT, path: "/v1/cluster/ha", body: Array(try JSONEncoder().encode(request)))
            if global.json { return print(response.text) }
            let c = try response.decode(ClusterHAConfig.self)
            print("cluster HA \(c.enabled ? "on" : "off"): min hosts \(c.minHosts), failover hosts \(c.failoverHosts.isEmpty ? "none" : c.failoverHosts.joined(separator: ",")), reserve cpu \(c.reserveCPUPercent) % memory \(c.reserveMemoryPercent) %")
        }
    }
}
