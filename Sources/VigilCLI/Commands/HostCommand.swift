import ArgumentParser
import Core

struct HostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host", abstract: "This hypervisor host.", subcommands: [Info.self])

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
}
