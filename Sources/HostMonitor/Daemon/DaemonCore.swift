import Logging

/// vigild's pieces before anything runs: the state store, the executor,
/// the event log, the operation journal and every area. `Daemon.run`
/// starts services over them; tests build them to read the API's routes.
struct DaemonCore: Sendable {
    let store: StateStore
    let executor: BlockingExecutor
    let events: EventLog
    let operations: OperationCenter
    let host: HostContext
    let tracking: GuestTracking
    let requests: AgentRequests
    let cache: DomainCache
    let areas: Areas

    init(config: DaemonConfig, logger: Logger) throws {
        store = try StateStore(directory: config.stateDirectory)
        executor = BlockingExecutor()
        events = EventLog(store: store, logger: logger)
        operations = OperationCenter(store: store, events: events, logger: logger,
                                     undo: UndoRunner(executor: executor).perform)
        host = HostContext(libvirt: ConnectionProvider(uri: config.libvirtURI), executor: executor, events: events,
                           operations: operations, store: store, logger: logger)
        tracking = GuestTracking(center: ProtectionCenter(), watchers: WatcherSet())
        requests = AgentRequests()
        let repository = try AgentRepository(stateDirectory: config.stateDirectory, trustKeyFiles: config.agentTrustKeyFiles)
        cache = DomainCache()
        areas = try Areas(config: config, host: host, tracking: tracking, requests: requests, cache: cache, repository: repository)
    }
}
