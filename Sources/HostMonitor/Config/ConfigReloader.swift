import Logging
import ServiceLifecycle
import UnixSignals

/// Where vigild's settings come from: the config file and the command
/// line laid over it. `resolve()` reads the file afresh each time.
public struct ConfigSource: Sendable {
    public let path: String
    /// Whether the file was named (`--config`): then it must exist.
    public let required: Bool
    public let commandLine: ConfigLayer

    public init(path: String, required: Bool, commandLine: ConfigLayer) {
        self.path = path
        self.required = required
        self.commandLine = commandLine
    }

    public func merged() throws(ConfigError) -> ConfigLayer {
        commandLine.merged(over: try ConfigFile.load(path: path, required: required))
    }

    public func resolve() throws(ConfigError) -> DaemonConfig {
        try DaemonConfig(settings: merged())
    }
}

/// On SIGHUP, reads the config file again: changes to live keys take
/// effect at once, others are named as needing a restart; a file that no
/// longer parses is refused and the running settings stay.
struct ConfigReloader: Service {
    let source: ConfigSource
    let live: LiveSettings
    let events: EventLog
    let logger: Logger

    func run() async throws {
        let first = (try? source.merged()) ?? source.commandLine
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            var applied = first
            for await _ in signals {
                applied = reload(from: applied)
            }
        }
    }

    /// One reload; returns the settings now in force.
    func reload(from applied: ConfigLayer) -> ConfigLayer {
        let layer: ConfigLayer, config: DaemonConfig
        do {
            layer = try source.merged()
            config = try DaemonConfig(settings: layer)
        } catch {
            logger.error("configuration not reloaded, the running settings stay: \(error)")
            events.record(kind: "admin", message: "configuration reload refused: \(error.place): \(error.problem)",
                          action: "reload", outcome: "failed")
            return applied
        }
        let changed = ConfigKeys.all.filter { layer[$0.name]?.value != applied[$0.name]?.value }
        let now = changed.filter(\.live).map(\.name), later = changed.filter { !$0.live }.map(\.name)
        live.apply(config)
        var message = now.isEmpty ? "configuration reloaded: nothing live changed"
            : "configuration reloaded: applied \(now.joined(separator: ", "))"
        if !later.isEmpty { message += "; restart vigild to apply \(later.joined(separator: ", "))" }
        logger.notice("\(message)", metadata: ["config.path": "\(source.path)"])
        events.record(kind: "admin", message: message, action: "reload", outcome: "succeeded")
        // Keys needing a restart keep their old value until then.
        var inForce = layer
        for key in later { inForce.restore(key, from: applied) }
        return inForce
    }
}

extension ConfigLayer {
    mutating func restore(_ key: String, from other: ConfigLayer) {
        if let e = other[key] { set(key, e.value, from: e.origin) } else { remove(key) }
    }
}
