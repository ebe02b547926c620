import ArgumentParser

@main
struct VigilCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Administer Vigil: the guests vigild protects on this host.",
        subcommands: [HostCommand.self, VMCommand.self, PolicyCommand.self, AgentCommand.self, TemplateCommand.self, OperationCommand.self, BinCommand.self, EventsCommand.self, SnapshotCommand.self, BackupCommand.self, TokenCommand.self, ClusterCommand.self])

    // Declared here too so `vigil --socket P vm list` works as well as
    // `vigil vm list --socket P`; subcommands share the parsed values.
    @OptionGroup var global: GlobalOptions
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "vigild's API socket.")
    var socket = "/run/vigil/vigild.sock"

    @Option(name: .long, help: "vigild's TCP API instead of the socket: https://HOST:PORT (needs --token-file or a client certificate).")
    var url: String?

    @Option(name: .long, help: "File holding a token from 'vigil token create' (with --url).")
    var tokenFile: String?

    @Option(name: .long, help: "PEM CA certificate that signed vigild's TLS certificate (with --url; default: the system's CAs).")
    var caFile: String?

    @Option(name: .long, help: "PEM client certificate, instead of a token (with --url and --client-key).")
    var clientCert: String?

    @Option(name: .long, help: "PEM private key of --client-cert.")
    var clientKey: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    var client: APIClient {
        get throws {
            guard let url else { return APIClient(socketPath: socket) }
            return APIClient(remote: try RemoteTarget(url: url, tokenFile: tokenFile, caFile: caFile,
                                                      clientCert: clientCert, clientKey: clientKey))
        }
    }
}
