/// `POST /v1/vms/{vm}/migrate` body: move a VM to another host.
public struct MigrationRequest: Codable, Sendable, Equatable {
    /// The destination host's libvirt URI (e.g. qemu+tcp://cvk2/system).
    public var destination: String
    /// Live (the VM keeps running; the default for a running VM) or offline
    /// (a shut-off VM's definition moves; its disks stay on shared storage).
    public var live: Bool?
    /// Pause the source when the migration has not converged after this many
    /// seconds, so it completes (resumed on the destination): CAS's rule.
    public var timeoutSeconds: Int?
    /// `xbzrle` or `mt` (QEMU 7.2's methods), with `mt`'s level and threads.
    public var compress: String?
    public var compressLevel: Int?
    public var compressThreads: Int?
    public var bandwidthMiBs: Int?
    public var autoConverge: Bool?
    public var maxDowntimeMs: Int?
    /// Start in pre-copy, switch to post-copy when the timeout passes instead
    /// of pausing (without a timeout: once the first full pass is done).
    public var postcopy: Bool?
    /// Move the disks too, into this directory or storage pool on the
    /// destination (for disks that are not on storage both hosts see).
    public var storageDirectory: String?
    public var storagePool: String?
    /// With a storage move: keep the images here afterwards.
    public var keepOld: Bool?

    public init(destination: String, live: Bool? = nil, timeoutSeconds: Int? = nil, compress: String? = nil,
                compressLevel: Int? = nil, compressThreads: Int? = nil, bandwidthMiBs: Int? = nil,
                autoConverge: Bool? = nil, maxDowntimeMs: Int? = nil, postcopy: Bool? = nil,
                storageDirectory: String? = nil, storagePool: String? = nil, keepOld: Bool? = nil) {
        self.storageDirectory = storageDirectory
        self.storagePool = storagePool
        self.keepOld = keepOld
        self.destination = destination
        self.live = live
        self.timeoutSeconds = timeoutSeconds
        self.compress = compress
        self.compressLevel = compressLevel
        self.compressThreads = compressThreads
        self.bandwidthMiBs = bandwidthMiBs
        self.autoConverge = autoConverge
        self.maxDowntimeMs = maxDowntimeMs
        self.postcopy = postcopy
    }

    /// Every problem with the options, at once.
    public var problems: [String] {
        var p: [String] = []
        if destination.isEmpty || !destination.contains("://") { p.append("destination must be a libvirt URI such as qemu+tcp://host2/system, got '\(destination)'") }
        if let t = timeoutSeconds, !(1...86_400).contains(t) { p.append("timeout must be 1 to 86400 seconds, got \(t)") }
        if let c = compress, !["xbzrle", "mt"].contains(c) { p.append("compression must be xbzrle or mt (QEMU 7.2), got '\(c)'") }
        if compress != "mt" && (compressLevel != nil || compressThreads != nil) { p.append("compression level and threads are for --compress mt") }
        if let l = compressLevel, !(0...9).contains(l) { p.append("compression level must be 0 to 9, got \(l)") }
        if let t = compressThreads, !(1...64).contains(t) { p.append("compression threads must be 1 to 64, got \(t)") }
        if let b = bandwidthMiBs, !(1...100_000).contains(b) { p.append("bandwidth must be 1 to 100000 MiB/s, got \(b)") }
        if let d = maxDowntimeMs, !(1...60_000).contains(d) { p.append("maximum downtime must be 1 to 60000 ms, got \(d)") }
        if live == false && (compress != nil || autoConverge == true || postcopy == true || timeoutSeconds != nil || maxDowntimeMs != nil) {
            p.append("compression, auto-converge, post-copy, timeout and downtime are for live migrations")
        }
        if storageDirectory != nil && storagePool != nil { p.append("give a storage directory or a storage pool on the destination, not both") }
        if let d = storageDirectory, !d.hasPrefix("/") { p.append("storage directory must be an absolute path, got '\(d)'") }
        if keepOld == true && storageDirectory == nil && storagePool == nil { p.append("--keep-old is for moves with storage (--storage-dir or --storage-pool)") }
        if postcopy == true && compress == "mt" { p.append("post-copy cannot be combined with mt compression (QEMU refuses it); use xbzrle or none") }
        if postcopy == true && (storageDirectory != nil || storagePool != nil) {
            p.append("post-copy cannot be combined with a storage move (the disks must be copied before the switch-over)")
        }
        return p
    }

    /// The options as the history shows them.
    public var summary: String {
        var parts: [String] = []
        if let t = timeoutSeconds { parts.append("timeout \(t) s") }
        if let c = compress { parts.append("compress \(c)" + (compressLevel.map { " level \($0)" } ?? "") + (compressThreads.map { " threads \($0)" } ?? "")) }
        if let b = bandwidthMiBs { parts.append("bandwidth \(b) MiB/s") }
        if autoConverge == true { parts.append("auto-converge") }
        if let d = maxDowntimeMs { parts.append("max downtime \(d) ms") }
        if postcopy == true { parts.append("post-copy") }
        if let d = storageDirectory ?? storagePool.map({ "pool \($0)" }) { parts.append("storage to \(d)") }
        return parts.joined(separator: ", ")
    }
}

/// One migration in a VM's or the host's history.
public struct MigrationRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var vmUUID: String
    public var vmName: String
    /// Seconds since 1970.
    public var started: Double
    public var ended: Double?
    public var source: String
    public var destination: String
    /// `live` or `offline`.
    public var kind: String
    public var options: String
    /// `running`, `succeeded`, `failed`, `cancelled`.
    public var result: String
    public var error: String?
    public var totalMs: Double?
    public var downtimeMs: Double?
    public var dataBytes: UInt64?
    public var iterations: UInt64?
    public var dirtyRatePagesPerSecond: UInt64?
    public var compressedBytes: UInt64?
    /// The source was paused by the timeout so the migration could complete.
    public var pausedByTimeout: Bool
    /// The operation that carried it out.
    public var operation: String?

    public init(vmUUID: String, vmName: String, started: Double, source: String, destination: String, kind: String,
                options: String, result: String = "running", pausedByTimeout: Bool = false, operation: String? = nil) {
        self.vmUUID = vmUUID
        self.vmName = vmName
        self.started = started
        self.source = source
        self.destination = destination
        self.kind = kind
        self.options = options
        self.result = result
        self.pausedByTimeout = pausedByTimeout
        self.operation = operation
    }
}

/// `GET /v1/migrations` and `GET /v1/vms/{vm}/migrations` body.
public struct MigrationHistory: Codable, Sendable {
    public var migrations: [MigrationRecord]
    public init(migrations: [MigrationRecord]) { self.migrations = migrations }
}

/// `PUT /v1/host/maintenance` body.
public struct MaintenanceRequest: Codable, Sendable {
    public var on: Bool
    public init(on: Bool) { self.on = on }
}

/// `GET /v1/host/maintenance` body.
public struct MaintenanceStatus: Codable, Sendable, Equatable {
    public var on: Bool
    /// Seconds since 1970, when it was switched on.
    public var since: Double?
    public init(on: Bool, since: Double? = nil) {
        self.on = on
        self.since = since
    }
}

/// `POST /v1/vms/{vm}/move-storage` body: move a VM's disks on this host.
public struct StorageMoveRequest: Codable, Sendable, Equatable {
    /// A directory, or a libvirt storage pool (dir, fs, netfs), not both.
    public var directory: String?
    public var pool: String?
    /// Keep the old images after the move (default: removed once nothing uses them).
    public var keepOld: Bool?

    public init(directory: String? = nil, pool: String? = nil, keepOld: Bool? = nil) {
        self.directory = directory
        self.pool = pool
        self.keepOld = keepOld
    }

    public var problems: [String] {
        var p: [String] = []
        if (directory == nil) == (pool == nil) { p.append("give a directory (--dir DIR) or a storage pool (--pool POOL)") }
        if let d = directory, !d.hasPrefix("/") { p.append("directory must be an absolute path, got '\(d)'") }
        return p
    }
}
