/// `POST /v1/vms/{vm}/snapshots` body: take a snapshot.
public struct SnapshotRequest: Codable, Sendable, Equatable {
    public var name: String
    public var description: String?
    /// Also save the running VM's memory, so a revert resumes where it was.
    public var memory: Bool?
    /// Freeze the guest's filesystems around a disk-only snapshot of a
    /// running VM. nil: when its agent answers, else without (noted).
    public var quiesce: Bool?
    /// A memory snapshot not finished after this many seconds pauses the VM
    /// so it completes (resumed afterwards): CAS's rule.
    public var timeoutSeconds: Int?

    public init(name: String, description: String? = nil, memory: Bool? = nil, quiesce: Bool? = nil, timeoutSeconds: Int? = nil) {
        self.name = name
        self.description = description
        self.memory = memory
        self.quiesce = quiesce
        self.timeoutSeconds = timeoutSeconds
    }

    /// Letters, digits, '.', '_' and '-', starting with a letter or digit (it names files).
    public static func nameProblem(_ name: String) -> String? {
        let ok = !name.isEmpty && name.count <= 64 && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
        } && name.first != "." && name.first != "-"
        return ok ? nil : "snapshot name must be 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.' or '-'), got '\(name)'"
    }

    public var problems: [String] {
        var p: [String] = []
        if let n = Self.nameProblem(name) { p.append(n) }
        if let d = description, d.utf8.count > 4096 { p.append("description must be at most 4096 bytes") }
        if let t = timeoutSeconds, !(1...86_400).contains(t) { p.append("timeout must be 1 to 86400 seconds, got \(t)") }
        if timeoutSeconds != nil && memory != true { p.append("--timeout is for memory snapshots (add --memory)") }
        if quiesce == true && memory == true { p.append("a memory snapshot cannot be quiesced (the memory holds the filesystems' state); leave out --quiesce or --memory") }
        return p
    }
}

/// `POST /v1/vms/{vm}/snapshots/{snapshot}/revert` body.
public struct SnapshotRevertRequest: Codable, Sendable, Equatable {
    /// Start the VM after reverting to a snapshot without memory.
    public var start: Bool?
    /// Leave a memory snapshot's VM paused instead of running.
    public var paused: Bool?

    public init(start: Bool? = nil, paused: Bool? = nil) {
        self.start = start
        self.paused = paused
    }
}

/// One snapshot in `GET /v1/vms/{vm}/snapshots`, listed depth-first (parents
/// before children, siblings oldest first).
public struct SnapshotInfo: Codable, Sendable, Equatable {
    public var name: String
    public var parent: String?
    public var children: [String]
    /// 0 for a root snapshot.
    public var depth: Int
    /// The VM runs on (or was last reverted to / taken from) this snapshot.
    public var current: Bool
    public var description: String?
    /// Unix time.
    public var created: Double
    /// The VM's state when it was taken: running, paused, shutoff, disk-snapshot.
    public var state: String
    public var memory: Bool
    /// external (Vigil's: overlays and a memory file) or internal (inside the qcow2 images).
    public var kind: String
    /// Bytes of the images holding the disks' state at the snapshot.
    public var diskBytes: Int64
    public var memoryBytes: Int64
    /// The snapshot policy that made it; nil for a snapshot taken by hand.
    public var policy: String?

    public init(name: String, parent: String?, children: [String], depth: Int, current: Bool, description: String?,
                created: Double, state: String, memory: Bool, kind: String, diskBytes: Int64, memoryBytes: Int64, policy: String?) {
        self.name = name
        self.parent = parent
        self.children = children
        self.depth = depth
        self.current = current
        self.description = description
        self.created = created
        self.state = state
        self.memory = memory
        self.kind = kind
        self.diskBytes = diskBytes
        self.memoryBytes = memoryBytes
        self.policy = policy
    }
}

/// `GET /v1/vms/{vm}/snapshots`.
public struct SnapshotList: Codable, Sendable, Equatable {
    public var vm: String
    public var snapshots: [SnapshotInfo]

    public init(vm: String, snapshots: [SnapshotInfo]) {
        self.vm = vm
        self.snapshots = snapshots
    }
}

/// `GET /v1/snapshot-policies`.
public struct SnapshotPolicyList: Codable, Sendable, Equatable {
    public var policies: [SnapshotPolicy]

    public init(policies: [SnapshotPolicy]) { self.policies = policies }
}
