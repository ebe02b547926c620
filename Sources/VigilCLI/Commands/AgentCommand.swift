import ArgumentParser
import Core

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "The vigil-agent inside each guest.", subcommands: [Status.self, Repo.self, Upgrade.self, Keygen.self, Sign.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Show each guest agent's state and last heartbeat.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Only this VM (name or UUID).") var vm: String?

        func run() async throws {
            let path = vm.map { "/v1/agents?vm=\($0.percentEscaped)" } ?? "/v1/agents"
            let response = try await global.client.get(path)
            if global.json { return print(response.text) }
            struct Body: Decodable { let agents: [AgentStatus] }
            let agents = try response.decode(Body.self).agents
            print(Table.render(header: ["VM", "AGENT", "KIND", "LAST HEARTBEAT", "INTERVAL", "VERSION", "GUEST OS"], rows: agents.map {
                [$0.vm, $0.state.rawValue, ($0.agentKind ?? .none).rawValue, $0.lastHeartbeatAgeMs.map { "\($0) ms ago" } ?? "-",
                 "\(Double($0.heartbeatIntervalMs) / 1000) s", $0.agentVersion ?? "-", $0.guestOS ?? "-"]
            }))
        }
    }
}


import FoundationEssentials
