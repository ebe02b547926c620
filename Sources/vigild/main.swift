import ArgumentParser
import HostMonitor
import Logging

@main
struct Vigild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigild",
        abstract: "Vigil host monitor: watches guests on this hypervisor and serves the vigil API.")

    @Option(name: .long, help: "libvirt connection URI.")
    var connect = "qemu:///system"

    @Option(name: .long, help: "Directory for vigild's state database.")
    var stateDir = "/var/lib/vigil"

    @Option(name: .long, help: "Unix socket the API listens on.")
    var socket = "/run/vigil/vigild.sock"

    @Option(name: .long, help: "Agent heartbeat interval in milliseconds (100-60000).")
    var heartbeatInterval = 1000

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard (100...60_000).contains(heartbeatInterval) else {
            throw ValidationError("--heartbeat-interval must be between 100 and 60000 ms, got \(heartbeatInterval)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "vigild")
        let config = DaemonConfig(libvirtURI: connect, stateDirectory: stateDir, socketPath: socket,
                                  heartbeatIntervalMs: heartbeatInterval)
        do {
            try await Daemon(config: config, logger: logger).run()
        } catch let error as DaemonError {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }
}
