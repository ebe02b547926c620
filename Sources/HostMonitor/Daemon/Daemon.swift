import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Assembles vigild's services and runs them until SIGTERM/SIGINT.
public struct Daemon: Sendable {
    public let config: DaemonConfig
    public let logger: Logger
    /// Where the settings came from, for reloads on SIGHUP (nil: none).
    let source: ConfigSource?
    let live: LiveSettings

    public init(config: DaemonConfig, logger: Logger, source: ConfigSource? = nil, live: LiveSettings? = nil) {
        self.config = config
        self.logger = logger
        self.source = source
        self.live = live ?? LiveSettings(config)
    }

    public func run() async throws {
        let core = try DaemonCore(config: config, logger: logger)
        let store = core.store, executor = core.executor, events = core.events, operations = core.operations
        let host = core.host, tracking = core.tracking, requests = core.requests, cache = core.cache, areas = core.areas
        let recycleBin = areas.recycleBin, migrations = areas.migrations
        let monitor = MonitorService(config: config, host: host, tracking: tracking, requests: requests,
                                     cache: cache, time: areas.time, upgrades: areas.upgrades) { conn, first in
            // What a killed vigild left halfway is finished or undone once libvirt is reachable.
            if first {
                await operations.recover()
                migrations.recover()
            }
            await recycleBin.finishSteps(conn)
        }
        let live = self.live
        let retention = EventRetention(store: store, logger: logger) {
            let v = live.current
            return (v.eventRetentionDays, v.eventMaxCount)
        }
        try Self.prepareSocket(config.socketPath)
        let apiMetrics = APIMetrics()
        let app = Application(
            router: APIRoutes.router(areas) { $0.add(middleware: APIMetricsMiddleware(metrics: apiMetrics)) },
            configuration: .init(address: .unixDomainSocket(path: config.socketPath), serverName: "vigild"),
            onServerRunning: { _ in
                // Only root and the vigil group may talk to vigild.
                chmod(config.socketPath, 0o660)
            },
            logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: monitor), .init(service: recycleBin), .init(service: retention),
            .init(service: areas.snapshotScheduler),
            .init(service: areas.backupScheduler), .init(service: app)]
        if let cluster = areas.cluster {
            services.append(.init(service: cluster.member))
            services.append(.init(service: cluster.manager))
        }
        if let address = config.metricsAddress {
            let collector = MetricsCollector(vms: areas.vms, operations: operations, store: store,
                                             offsets: areas.time.offsets, api: apiMetrics)
            services.append(.init(service: MetricsService(address: address, collector: collector, logger: logger)))
        }
        if let remote = config.remoteAPI {
            let router = APIRoutes.router(areas) {
                $0.add(middleware: APIMetricsMiddleware(metrics: apiMetrics))
                $0.add(middleware: AuthMiddleware(tokens: areas.tokens, logger: logger))
            }
            services.append(.init(service: try RemoteAPIServer(config: remote, router: router, logger: logger)))
        }
        if let source {
            services.append(.init(service: ConfigReloader(source: source, live: live, events: events, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(services: services,
                                 gracefulShutdownSignals: [.sigterm, .sigint],
                                 logger: logger))
        logger.info("vigild starting", metadata: ["libvirt.uri": "\(config.libvirtURI)",
                                                 "api.socket": "\(config.socketPath)",
                                                 "state.dir": "\(config.stateDirectory)"])
        try await group.run()
        try? await executor.shutdown()
        unlink(config.socketPath)
        logger.info("vigild stopped")
    }

    /// Creates the socket's directory and removes a stale socket left by a
    /// killed vigild; refuses when another vigild is still answering there.
    static func prepareSocket(_ path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard FileManager.default.fileExists(atPath: path) else { return }
        if SocketProbe.isListening(path) {
            throw DaemonError.alreadyRunning(path)
        }
        unlink(path)
    }
}

public enum DaemonError: Error, CustomStringConvertible {
    case alreadyRunning(String)
    public var description: String {
        switch self {
        case .alreadyRunning(let p): "another vigild is already listening on \(p); stop it first or pass --socket"
        }
    }
}

/// Checks whether something accepts connections on a unix socket.
enum SocketProbe {
    static func isListening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return rc == 0
    }
}
