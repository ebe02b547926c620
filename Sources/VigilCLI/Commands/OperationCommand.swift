import ArgumentParser
import Core
import FoundationEssentials

struct OperationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "op", abstract: "Long operations (clones, template export/import, OVA import, wipes).",
        discussion: """
            Long operations run in vigild, journalled: one that vigild was running when it \
            stopped is rolled back at its next start (state rolled_back), leaving no half-made \
            VM or disk behind.
            """,
        subcommands: [List.self, Show.self, Cancel.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List recent operations, newest first.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let response = try await global.client.get("/v1/operations")
            if global.json { return print(response.text) }
            let ops = try response.decode(OperationList.self).operations
            print(Table.render(header: ["ID", "KIND", "TARGET", "STATE", "PROGRESS", "STARTED"], rows: ops.map {
                [$0.id, $0.kind, $0.target, $0.state.rawValue, "\(Int($0.progress * 100))%",
                 Date(timeIntervalSince1970: $0.started).formatted(.iso8601)]
            }))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one operation; --wait follows it to the end.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Operation id (from 'vigil op list').") var id: String
        @Flag(help: "Follow it until it ends (exit status 1 unless it succeeded).") var wait = false

        func run() async throws {
            let response = try await global.client.get("/v1/operations/\(id.percentEscaped)")
            if wait { return try await OperationFollower.follow(response, global: global, wait: true) }
            if global.json { return print(response.text) }
            let info = try response.decode(OperationInfo.self)
            print(OperationFollower.describe(info))
            if info.state == .running { print("  progress: \(Int(info.progress * 100))% \(info.detail ?? "")") }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a running operation; what it made so far is removed.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Operation id.") var id: String

        func run() async throws {
            let response = try await global.client.send(method: .POST, path: "/v1/operations/\(id.percentEscaped)/cancel", body: nil)
            if global.json { return print(response.text) }
            print("cancelling operation \(id); 'vigil op show \(id) --wait' shows when it has rolled back")
        }
    }
}
