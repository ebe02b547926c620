import Core

/// Every area of vigild, assembled once from the host context and the
/// daemon's core pieces. Each area gets only what it uses; the API's router
/// reaches the areas through this, never through `MonitorService`.
struct Areas: Sendable {
    let vms: VMService
    let lifecycle: LifecycleService
    let policies: PolicyService
    let settings: SettingsService
    let time: TimeService
    let upgrades: UpgradeService
    let hardware: HardwareService
    let recycleBin: RecycleBinService
    let destroy: DestroyService
    let templates: TemplateService
    let clones: CloneService
    let migrations: MigrationService
    let maintenance: HostMaintenance
    let operations: OperationService
    let events: EventService
    let snapshots: SnapshotService
    let snapshotPolicies: SnapshotPolicyService
    let snapshotScheduler: SnapshotScheduler
    let backups: BackupService
    let storageMoves: StorageMoveService
    let backupPolicies: BackupPolicyService
    let backupScheduler: BackupScheduler
    let tokens: TokenService
    /// Cluster HA (nil: this vigild is not in a cluster).
    let cluster: ClusterService?

    init(config: DaemonConfig, host: HostContext, tracking: GuestTracking, requests: AgentRequests,
         cache: DomainCache, repository: AgentRepository) throws {
        let center = tracking.center
        let copier = DiskCopier(executor: host.executor, rateLimitMiBs: config.copyRateLimitMiBs)
        let busy = VMBusyMarks()
        vms = VMService(host: host, center: center, defaultPolicy: config.defaultPolicy, cache: cache)
        cluster = try config.cluster.map {
            try ClusterService(settings: $0, host: host, sharedStorage: config.sharedStorage,
                               maintenanceMark: config.stateDirectory + "/maintenance")
        }
        migrations = MigrationService(host: host, center: center, sharedStorage: SharedStorage(directories: config.sharedStorage),
                                      cluster: cluster)
        maintenance = HostMaintenance(host: host, migrations: migrations, cache: cache, defaultPolicy: config.defaultPolicy,
                                      peers: config.peers, markPath: config.stateDirectory + "/maintenance")
        lifecycle = LifecycleService(host: host, vms: vms, maintenance: maintenance, cluster: cluster)
        policies = PolicyService(host: host, center: center, defaultPolicy: config.defaultPolicy, cache: cache)
        settings = SettingsService(host: host, center: center, policies: policies)
        time = TimeService(host: host, center: center, requests: requests)
        upgrades = UpgradeService(host: host, center: center, requests: requests, repository: repository,
                                  trialTimeoutMs: config.agentUpgradeTimeoutMs)
        hardware = HardwareService(host: host, center: center, requests: requests)
        recycleBin = RecycleBinService(host: host, tracking: tracking, vms: vms, busy: busy,
                                       retentionSeconds: config.recycleRetentionSeconds)
        destroy = DestroyService(host: host, tracking: tracking, busy: busy)
        templates = TemplateService(host: host, templates: TemplateLibrary(root: config.templateRoot), copier: copier,
                                    vmDirectory: config.vmDirectory)
        clones = CloneService(host: host, copier: copier, sharedStorage: SharedStorage(directories: config.sharedStorage))
        operations = OperationService(operations: host.operations)
        events = EventService(host: host, center: center)
        // Snapshots, backups and storage moves all rework a VM's disk chain: one of them per VM at a time.
        let chainWork = VMBusyMarks(work: "snapshot, backup or storage move")
        snapshots = SnapshotService(host: host, center: center, busy: chainWork, rateLimitMiBs: config.copyRateLimitMiBs)
        backups = BackupService(host: host, settings: config.backups, busy: chainWork, copier: copier)
        storageMoves = StorageMoveService(host: host, busy: chainWork)
        backupPolicies = BackupPolicyService(host: host, backups: backups)
        backupScheduler = BackupScheduler(host: host, backups: backups, policies: backupPolicies)
        snapshotPolicies = SnapshotPolicyService(host: host)
        snapshotScheduler = SnapshotScheduler(host: host, snapshots: snapshots, policies: snapshotPolicies)
        tokens = TokenService(store: host.store, events: host.events)
    }
}
