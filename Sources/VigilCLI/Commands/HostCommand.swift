import ArgumentParser
import Core
import FoundationEssentials

struct HostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host", abstract: "This hypervisor host.", subcommands: [Info.self, Maintenance.self])

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "info", abstract: "Show the host vigild runs on.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let response = try await global.client.get("/v1/host")
            if global.json { return print(response.text) }
            let info = try response.decode(HostInfo.self)
            let rows: [(String, String)] = [
                ("Hostname", info.hostname), ("Host UUID", info.hostUUID),
                ("libvirt", "\(info.libvirtVersion) at \(info.libvirtURI) ("
                    + (info.libvirtConnected ? "connected" : "disconnected") + ")"),
                ("Hypervisor", info.driver + (info.hypervisorVersion.map { " \($0)" } ?? "")),
                ("CPUs", "\(info.cpus)"), ("Memory", "\(info.memoryMiB) MiB (\(info.freeMemoryMiB) MiB free)"),
                ("VMs", "\(info.domains) (\(info.protectedDomains) protected)"), ("vigild", info.vigildVersion),
            ]
            for (k, v) in rows { print(k.padding(12) + v) }
        }
    }

    struct Maintenance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "maintenance", abstract: "Show, or switch on or off, this host's maintenance mode.",
            discussion: """
                'on' live-migrates every running VM to the peer (vigild --peer) with the most free memory \
                that can take it, highest HA priority first, with a 120 s timeout that pauses a VM \
                that does not converge; while on, this host starts no VM. 'off' lets it take VMs again.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "on or off (leave out to show).") var state: String?
        @Flag(help: "Return once started instead of following the evacuation.") var noWait = false

        func validate() throws {
            if let state, !["on", "off"].contains(state) { throw ValidationError("maintenance takes on or off, got '\(state)'") }
        }

        func run() async throws {
            guard let state else {
                let response = try await global.client.get("/v1/host/maintenance")
                if global.json { return print(response.text) }
                let s = try response.decode(MaintenanceStatus.self)
                return print(s.on ? "maintenance: on" + (s.since.map { " since \(TextFormat.localTime($0))" } ?? "") : "maintenance: off")
            }
            let body = Array(try JSONEncoder().encode(MaintenanceRequest(on: state == "on")))
            let response = try await global.client.send(method: .PUT, path: "/v1/host/maintenance" + (noWait ? "" : "?wait=60"), body: body)
            try await OperationFollower.follow(response, global: global, wait: !noWait)
        }
    }
}
