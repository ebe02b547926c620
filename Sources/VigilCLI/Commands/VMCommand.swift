import ArgumentParser
import Core

struct VMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm", abstract: "Virtual machines on this host.", subcommands: [List.self, Create.self, Clone.self, Migrate.self, Migrations.self, MoveStorage.self, BootOrderCommand.self, Start.self, Shutdown.self, Poweroff.self, Simple<PauseTag>.self,
                       Simple<ResumeTag>.self, Simple<HibernateTag>.self, Simple<WakeTag>.self, Simple<RebootTag>.self,
                       Autostart.self, Time.self, Settings.self, Hardware.self, CPU.self, Memory.self, Disk.self, NIC.self,
                       Delete.self, Destroy.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List VMs with their state and agent status.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let response = try await global.client.get("/v1/vms")
            if global.json { return print(response.text) }
            struct Body: Decodable { let vms: [VMSummary] }
            let vms = try response.decode(Body.self).vms
            print(Table.render(header: ["NAME", "UUID", "STATE", "AGENT", "PROTECTED BY", "PROTECTED"], rows: vms.map {
                [$0.name, $0.uuid, "\($0.state) (\($0.stateReason))", $0.agent.rawValue,
                 ($0.agentKind ?? .none).rawValue + ($0.agentVersion.map { " \($0)" } ?? ""), $0.agent.isProtected ? "yes" : "no"]
            }))
        }
    }
}
