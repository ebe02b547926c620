/// How much a backup copies: everything, what changed since the previous
/// backup of its chain, or what changed since the chain's full backup.
/// `auto`: incremental when the chain allows, else full (saying why).
public enum BackupLevel: String, Codable, Sendable, CaseIterable {
    case full, incremental, differential, auto
}

/// `POST /v1/vms/{vm}/backups` body.
public struct BackupRequest: Codable, Sendable, Equatable {
    public var level: BackupLevel?
    /// A local directory (`/srv/backup`) or `ssh://[user@]host[:port]/path`;
    /// nil: vigild's --backup-destination.
    public var destination: String?
    /// Scratch space for data on its way to a remote destination (or
    /// compressed / rate-limited); nil: vigild's --backup-temp-dir.
    public var tempDirectory: String?
    /// zstd-compress the stored images.
    public var compress: Bool?
    /// Keep this many backups of the VM in the destination (and whatever
    /// they need); older ones are removed after this backup succeeds.
    public var keep: Int?
    /// Cap on the rate data is written to the destination, MiB/s.
    public var rateLimitMiBs: Int?
    /// Freeze the guest's filesystems around the backup's instant. nil:
    /// when its agent answers, else crash-consistent (noted).
    public var quiesce: Bool?

    public init(level: BackupLevel? = nil, destination: String? = nil, tempDirectory: String? = nil, compress: Bool? = nil,
                keep: Int? = nil, rateLimitMiBs: Int? = nil, quiesce: Bool? = nil) {
        self.level = level
        self.destination = destination
        self.tempDirectory = tempDirectory
        self.compress = compress
        self.keep = keep
        self.rateLimitMiBs = rateLimitMiBs
        self.quiesce = quiesce
    }

    public var problems: [String] {
        var p: [String] = []
        if let k = keep, !(1...10_000).contains(k) { p.append("keep must be 1 to 10000 backups, got \(k)") }
        if let r = rateLimitMiBs, !(1...100_000).contains(r) { p.append("rate limit must be 1 to 100000 MiB/s, got \(r)") }
        if let t = tempDirectory, !t.hasPrefix("/") { p.append("temp directory must be an absolute path, got '\(t)'") }
        return p
    }
}

/// One disk in a backup.
public struct BackupDiskInfo: Codable, Sendable, Equatable {
    public var target: String
    /// The stored image, relative to the backup's directory.
    public var file: String
    public var virtualBytes: Int64
    /// Bytes stored for this disk in this backup.
    public var storedBytes: Int64

    public init(target: String, file: String, virtualBytes: Int64, storedBytes: Int64) {
        self.target = target
        self.file = file
        self.virtualBytes = virtualBytes
        self.storedBytes = storedBytes
    }
}

/// One backup, as `GET /v1/backups` lists it.
public struct BackupInfo: Codable, Sendable, Equatable {
    public var id: String
    public var vm: String
    public var vmUUID: String
    /// full, incremental or differential (never auto).
    public var level: BackupLevel
    /// The backup this one's images build on (nil for a full).
    public var parent: String?
    /// The full backup its chain starts from.
    public var base: String
    /// Unix time of the backup's instant.
    public var created: Double
    public var disks: [BackupDiskInfo]
    /// quiesced (filesystems frozen by the guest agent) or crash-consistent.
    public var consistency: String
    /// Why a full was taken when another level was asked for, if it was.
    public var note: String?
    public var compressed: Bool
    /// The VM was shut off (started paused for the copy, stopped again).
    public var vmWasShutOff: Bool
    public var destination: String
    /// The backup policy that made it; nil for one taken by hand.
    public var policy: String?

    public init(id: String, vm: String, vmUUID: String, level: BackupLevel, parent: String?, base: String, created: Double,
                disks: [BackupDiskInfo], consistency: String, note: String?, compressed: Bool, vmWasShutOff: Bool,
                destination: String, policy: String?) {
        self.id = id
        self.vm = vm
        self.vmUUID = vmUUID
        self.level = level
        self.parent = parent
        self.base = base
        self.created = created
        self.disks = disks
        self.consistency = consistency
        self.note = note
        self.compressed = compressed
        self.vmWasShutOff = vmWasShutOff
        self.destination = destination
        self.policy = policy
    }

    public var storedBytes: Int64 { disks.reduce(0) { $0 + $1.storedBytes } }
}

public struct BackupList: Codable, Sendable, Equatable {
    public var destination: String
    /// Oldest first.
    public var backups: [BackupInfo]

    public init(destination: String, backups: [BackupInfo]) {
        self.destination = destination
        self.backups = backups
    }
}

/// `POST /v1/backups/{backup}/restore` body.
public struct BackupRestoreRequest: Codable, Sendable, Equatable {
    public var destination: String?
    /// Name of the new VM (new UUID and MACs); nil with `inPlace`.
    public var name: String?
    /// Replace the original VM's disks and definition (it must be shut off,
    /// or `force` stops it).
    public var inPlace: Bool?
    public var force: Bool?
    /// Directory for the restored disks; nil: the original disks' directory.
    public var storageDirectory: String?
    /// Or a libvirt storage pool (directory pools).
    public var storagePool: String?
    public var start: Bool?
    public var tempDirectory: String?

    public init(destination: String? = nil, name: String? = nil, inPlace: Bool? = nil, force: Bool? = nil,
                storageDirectory: String? = nil, storagePool: String? = nil, start: Bool? = nil, tempDirectory: String? = nil) {
        self.destination = destination
        self.name = name
        self.inPlace = inPlace
        self.force = force
        self.storageDirectory = storageDirectory
        self.storagePool = storagePool
        self.start = start
        self.tempDirectory = tempDirectory
    }

    public var problems: [String] {
        var p: [String] = []
        if inPlace == true && name != nil { p.append("--in-place restores the original VM; leave out --name") }
        if inPlace != true && name == nil { p.append("name the new VM (--name NAME), or restore over the original (--in-place)") }
        if force == true && inPlace != true { p.append("--force is for --in-place (it stops the running original)") }
        if storageDirectory != nil && storagePool != nil { p.append("give a storage directory or a storage pool, not both") }
        if let d = storageDirectory, !d.hasPrefix("/") { p.append("storage directory must be an absolute path, got '\(d)'") }
        return p
    }
}

/// A damaged region found by verify.
public struct BackupDamage: Codable, Sendable, Equatable {
    public var backup: String
    public var disk: String
    /// Byte range of the stored image.
    public var offset: Int64
    public var length: Int64
    public var problem: String

    public init(backup: String, disk: String, offset: Int64, length: Int64, problem: String) {
        self.backup = backup
        self.disk = disk
        self.offset = offset
        self.length = length
        self.problem = problem
    }
}

/// `POST /v1/backups/{backup}/verify` (or of every backup of a VM).
public struct BackupVerifyResult: Codable, Sendable, Equatable {
    public var checked: [String]
    public var bytesRead: Int64
    public var damage: [BackupDamage]
    public var ok: Bool { damage.isEmpty }

    public init(checked: [String], bytesRead: Int64, damage: [BackupDamage]) {
        self.checked = checked
        self.bytesRead = bytesRead
        self.damage = damage
    }

    enum CodingKeys: String, CodingKey { case checked, bytesRead, damage, ok }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        checked = try c.decode([String].self, forKey: .checked)
        bytesRead = try c.decode(Int64.self, forKey: .bytesRead)
        damage = try c.decode([BackupDamage].self, forKey: .damage)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(checked, forKey: .checked)
        try c.encode(bytesRead, forKey: .bytesRead)
        try c.encode(damage, forKey: .damage)
        try c.encode(ok, forKey: .ok)
    }
}

/// A backup policy: which VMs, when, at which level, where to, how many
/// to keep, and when to verify what it made.
public struct BackupPolicy: Codable, Sendable, Equatable {
    public var name: String
    /// VM names or UUIDs.
    public var vms: [String]
    /// When backups run.
    public var schedule: Schedule
    /// The level of a scheduled run (default auto: incremental, full when the chain needs one).
    public var level: BackupLevel
    /// When a run is a full instead (e.g. weekly full, daily incrementals).
    public var fullSchedule: Schedule?
    public var destination: String?
    public var keep: Int?
    public var compress: Bool
    public var rateLimitMiBs: Int?
    /// When the VMs' backups in the destination are verified.
    public var verifySchedule: Schedule?
    /// Unix times of the last runs (set by vigild).
    public var lastRun: Double?
    public var lastFull: Double?
    public var lastVerify: Double?

    public init(name: String, vms: [String], schedule: Schedule, level: BackupLevel = .auto, fullSchedule: Schedule? = nil,
                destination: String? = nil, keep: Int? = nil, compress: Bool = false, rateLimitMiBs: Int? = nil,
                verifySchedule: Schedule? = nil, lastRun: Double? = nil, lastFull: Double? = nil, lastVerify: Double? = nil) {
        self.name = name
        self.vms = vms
        self.schedule = schedule
        self.level = level
        self.fullSchedule = fullSchedule
        self.destination = destination
        self.keep = keep
        self.compress = compress
        self.rateLimitMiBs = rateLimitMiBs
        self.verifySchedule = verifySchedule
        self.lastRun = lastRun
        self.lastFull = lastFull
        self.lastVerify = lastVerify
    }

    public var problems: [String] {
        var p: [String] = []
        if SnapshotRequest.nameProblem(name) != nil {
            p.append("policy name must be 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.' or '-'), got '\(name)'")
        }
        if vms.isEmpty { p.append("a policy needs at least one VM (--vm NAME)") }
        if let k = keep, !(1...10_000).contains(k) { p.append("keep must be 1 to 10000, got \(k)") }
        if let r = rateLimitMiBs, !(1...100_000).contains(r) { p.append("rate limit must be 1 to 100000 MiB/s, got \(r)") }
        return p
    }
}

public struct BackupPolicyList: Codable, Sendable, Equatable {
    public var policies: [BackupPolicy]
    public init(policies: [BackupPolicy]) { self.policies = policies }
}
