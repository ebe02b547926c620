/// A deleted VM kept in vigild's recycle bin (`GET /v1/recycle-bin`).
public struct RecycleEntry: Codable, Sendable, Equatable {
    public var id: Int64
    public var vmName: String
    public var vmUUID: String
    /// Seconds since 1970.
    public var deletedAt: Double
    /// When it will be purged by itself (nil: kept until purged by hand).
    public var expiresAt: Double?
    /// The VM's disks that moved into the bin with it (empty: they stayed in place).
    public var disks: [RecycledDisk]
    /// Disks of the VM that stayed where they were (CD-ROMs, shared or read-only disks, or all without --with-disks).
    public var disksLeft: [String]

    public init(id: Int64, vmName: String, vmUUID: String, deletedAt: Double, expiresAt: Double?,
                disks: [RecycledDisk], disksLeft: [String]) {
        self.id = id
        self.vmName = vmName
        self.vmUUID = vmUUID
        self.deletedAt = deletedAt
        self.expiresAt = expiresAt
        self.disks = disks
        self.disksLeft = disksLeft
    }
}

/// A disk file moved (renamed) into a recycle directory on its own filesystem.
public struct RecycledDisk: Codable, Sendable, Equatable {
    /// Where the VM had it, and where restore puts it back.
    public var original: String
    /// Where it is while in the bin.
    public var stored: String

    public init(original: String, stored: String) {
        self.original = original
        self.stored = stored
    }
}

/// `GET /v1/recycle-bin` body.
public struct RecycleBinList: Codable, Sendable {
    public var entries: [RecycleEntry]
    /// Retention of the bin (nil: forever).
    public var retentionSeconds: Double?

    public init(entries: [RecycleEntry], retentionSeconds: Double?) {
        self.entries = entries
        self.retentionSeconds = retentionSeconds
    }
}

/// `POST /v1/vms/{vm}/recycle` body.
public struct RecycleRequest: Codable, Sendable {
    /// Move the VM's disks into the bin too (else they stay where they are).
    public var withDisks: Bool?
    /// Power a running, paused or crashed VM off first, and drop a hibernated VM's saved memory.
    public var force: Bool?

    public init(withDisks: Bool? = nil, force: Bool? = nil) {
        self.withDisks = withDisks
        self.force = force
    }
}

/// `POST /v1/vms/{vm}/destroy` body: permanent deletion.
public struct DestroyRequest: Codable, Sendable {
    /// Delete the VM's disk files too.
    public var deleteDisks: Bool?
    /// Zero-fill each disk file before deleting it (implies `deleteDisks`).
    public var wipe: Bool?
    /// Power a running, paused or crashed VM off first.
    public var force: Bool?

    public init(deleteDisks: Bool? = nil, wipe: Bool? = nil, force: Bool? = nil) {
        self.deleteDisks = deleteDisks
        self.wipe = wipe
        self.force = force
    }
}

/// `POST /v1/recycle-bin/{id}/restore` body.
public struct RestoreRequest: Codable, Sendable {
    /// Restore under this name (when the old one is taken by now).
    public var name: String?
    public init(name: String? = nil) { self.name = name }
}

/// `POST /v1/recycle-bin/{id}/purge` body.
public struct PurgeRequest: Codable, Sendable {
    /// Zero-fill the binned disk files before deleting them.
    public var wipe: Bool?
    public init(wipe: Bool? = nil) { self.wipe = wipe }
}

/// Reply of a permanent deletion (destroy or purge).
public struct DeletionResult: Codable, Sendable, Equatable {
    public var vm: String
    /// Disk files deleted.
    public var deletedDisks: [String]
    /// Whether they were zero-filled first.
    public var wiped: Bool
    /// Disks kept (not asked to delete, or not the VM's own: CD-ROMs, shared, read-only).
    public var keptDisks: [String]

    public init(vm: String, deletedDisks: [String], wiped: Bool, keptDisks: [String]) {
        self.vm = vm
        self.deletedDisks = deletedDisks
        self.wiped = wiped
        self.keptDisks = keptDisks
    }
}
