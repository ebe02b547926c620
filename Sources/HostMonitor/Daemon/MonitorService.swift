import Core
import Foundation
import Libvirt
import Logging
import ServiceLifecycle
import Synchronization

/// The heart of vigild: keeps a libvirt connection (reconnecting when
/// libvirtd restarts), follows domain events, and runs one agent watcher per
/// running domain that has the Vigil channel.
public final class MonitorService: Service, Sendable {
    public let config: DaemonConfig
    public let store: StateStore
    public let registry = AgentRegistry()
    let executor: BlockingExecutor
    let logger: Logger
    private let current = Mutex<Connection?>(nil)
    let watchers = WatcherSet()

    public init(config: DaemonConfig, store: StateStore, executor: BlockingExecutor, logger: Logger) {
        self.config = config
        self.store = store
        self.executor = executor
        self.logger = logger
    }

    /// The live connection, or an error saying libvirtd is unreachable.
    func connection() throws -> Connection {
        guard let conn = current.withLock({ $0 }), conn.isAlive else {
            throw APIError.unavailable("not connected to libvirt at \(config.libvirtURI)",
                                       hint: "check that libvirtd is running; vigild reconnects by itself")
        }
        return conn
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.connectLoop()
        }
        await watchers.stopAll()
    }

    private func connectLoop() async {
        var backoff: Duration = .milliseconds(250)
        while !Task.isCancelled {
            do {
                let conn = try await open()
                backoff = .milliseconds(250)
                record(kind: "libvirt", message: "connected to \(config.libvirtURI)")
                try await follow(conn)
                if Task.isCancelled { break }
                logger.warning("lost connection to libvirtd; reconnecting", metadata: ["libvirt.uri": "\(config.libvirtURI)"])
                record(kind: "libvirt", message: "connection to \(config.libvirtURI) lost")
                await watchers.stopAll()
            } catch is CancellationError {
                break
            } catch {
                logger.error("cannot reach libvirt: \(error)", metadata: ["libvirt.uri": "\(config.libvirtURI)"])
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    private func open() async throws -> Connection {
        let existing = current.withLock { $0 }
        let uri = config.libvirtURI
        let conn = try await executor.run { () throws -> Connection in
            if let existing {
                try existing.reconnect()
                return existing
            }
            return try Connection(uri: uri)
        }
        current.withLock { $0 = conn }
        // Keepalive notices a hung or vanished libvirtd; drivers without it (test://) refuse harmlessly.
        try? await executor.run { try conn.setKeepAlive(interval: 5, count: 3) }
        return conn
    }

    /// Follows events until the connection closes.
    private func follow(_ conn: Connection) async throws {
        let subscription = try await executor.run { try conn.subscribeDomainEvents() }
        defer { subscription.cancel() }
        try await reconcile(conn)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in subscription.events { await self.handle(event, conn: conn) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(self.config.reconcileIntervalMs))
                    try? await self.reconcile(conn)
                }
            }
            group.addTask {
                let interval = self.config.heartbeatIntervalMs
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(interval))
                    await self.sweepHeartbeats()
                }
            }
            // The event stream ends when the connection closes.
            try await group.next()
            group.cancelAll()
        }
    }

    private func handle(_ event: DomainEvent, conn: Connection) async {
        guard case .lifecycle(let life) = event.kind else { return }
        logger.info("domain event \(life)", metadata: ["vm.name": "\(event.domainName)", "vm.uuid": "\(event.domainUUID)"])
        record(vmUUID: event.domainUUID, vmName: event.domainName, kind: "lifecycle", message: life.description)
        switch life.kind {
        case .started, .resumed:
            try? await reconcile(conn)
        case .stopped, .crashed, .undefined:
            await watchers.stop(event.domainUUID)
            await registry.set(event.domainUUID, state: .stopped)
        default:
            break
        }
    }

    /// Marks agents whose heartbeats stopped as lost.
    private func sweepHeartbeats() async {
        let timeout = Duration.milliseconds(config.heartbeatIntervalMs * 3)
        for (uuid, name) in await watchers.active() {
            guard let entry = await registry.entry(uuid), entry.state == .alive,
                  let last = entry.lastHeartbeat, ContinuousClock.now - last > timeout else { continue }
            await registry.set(uuid, state: .lost)
            logger.warning("agent heartbeat lost", metadata: ["vm.name": "\(name)"])
            record(vmUUID: uuid, vmName: name, kind: "agent", message: "heartbeat lost")
        }
    }

    /// Brings watchers in line with the running domains that have the channel.
    func reconcile(_ conn: Connection) async throws {
        let running = try await executor.run { () throws -> [(String, String, String?)] in
            try conn.domains(.active).map { dom in
                let path = (try? dom.xml()).flatMap {
                    DomainXML.channelSocketPath(in: $0, channelName: AgentProtocol.channelName)
                }
                return (dom.uuid, dom.name, path)
            }
        }
        var keep: Set<String> = []
        for (uuid, name, path) in running {
            guard let path else { continue }
            keep.insert(uuid)
            await watchers.ensure(uuid: uuid, name: name, socketPath: path) {
                await self.watch(uuid: uuid, name: name, socketPath: path)
            }
        }
        await watchers.stopAll(except: keep)
    }

    /// Keeps a session to one guest's channel open while the domain runs.
    private func watch(uuid: String, name: String, socketPath: String) async {
        if await registry.entry(uuid)?.state != .alive { await registry.set(uuid, state: .connecting) }
        while !Task.isCancelled {
            let session = AgentSession(vmUUID: uuid, vmName: name, socketPath: socketPath,
                                       heartbeatIntervalMs: config.heartbeatIntervalMs,
                                       registry: registry, logger: logger)
            do {
                switch try await session.run() {
                case .goodbye(let reason):
                    record(vmUUID: uuid, vmName: name, kind: "agent", message: "agent stopped cleanly: \(reason)")
                case .closed:
                    break
                }
            } catch {
                logger.debug("agent channel: \(error)", metadata: ["vm.name": "\(name)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    func record(vmUUID: String? = nil, vmName: String? = nil, kind: String, message: String) {
        do {
            try store.record(EventRecord(vmUUID: vmUUID, vmName: vmName, kind: kind, message: message))
        } catch {
            logger.error("cannot write event log: \(error)")
        }
    }
}

/// The running agent watcher tasks, by domain UUID.
actor WatcherSet {
    private var tasks: [String: (name: String, path: String, task: Task<Void, Never>)] = [:]

    func ensure(uuid: String, name: String, socketPath: String, _ body: @escaping @Sendable () async -> Void) {
        if let existing = tasks[uuid], existing.path == socketPath { return }
        tasks[uuid]?.task.cancel()
        tasks[uuid] = (name, socketPath, Task { await body() })
    }

    func stop(_ uuid: String) {
        tasks.removeValue(forKey: uuid)?.task.cancel()
    }

    func stopAll(except keep: Set<String> = []) {
        for uuid in tasks.keys where !keep.contains(uuid) { stop(uuid) }
    }

    func active() -> [(String, String)] { tasks.map { ($0.key, $0.value.name) } }
}
