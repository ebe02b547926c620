import ArgumentParser

@main
struct VigilCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Administer Vigil: the guests vigild protects on this host.",
        subcommands: [HostCommand.self, VMCommand.self, PolicyCommand.self, AgentCommand.self, TemplateCommand.self, OperationCommand.self, BinCommand.self, EventsCommand.self, SnapshotCommand.self])

    // Declared here too so `vigil --socket P vm list` works as well as
    // `vigil vm list --socket P`; subcommands share the parsed values.
    @OptionGroup var global: GlobalOptions
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "vigild's API socket.")
    var socket = "/run/vigil/vigild.sock"

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    var client: APIClient { APIClient(socketPath: socket) }
}
