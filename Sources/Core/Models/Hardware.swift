/// A VM's virtual hardware (`GET /v1/vms/{vm}/hardware`): the persistent
/// definition (what the next boot gets), the running VM's, and what the
/// guest kernel sees (from the agent).
public struct HardwareReport: Codable, Sendable {
    public var vm: String
    public var running: Bool
    public var config: HardwareLayout
    /// nil when the VM is off.
    public var live: HardwareLayout?
    /// nil when no agent answered; `guestNote` says why.
    public var guest: AgentMessage.Inventory?
    public var guestNote: String?

    public init(vm: String, running: Bool, config: HardwareLayout, live: HardwareLayout?,
                guest: AgentMessage.Inventory?, guestNote: String?) {
        self.vm = vm
        self.running = running
        self.config = config
        self.live = live
        self.guest = guest
        self.guestNote = guestNote
    }
}

/// vCPUs, memory, disks and NICs of one definition (persistent or live).
public struct HardwareLayout: Codable, Sendable, Equatable {
    public var vcpus: Int
    public var maxVcpus: Int
    /// `<currentMemory>`: what the balloon leaves the guest.
    public var memoryMiB: Int
    /// `<memory>`: the most the guest can have without a restart.
    public var maxMemoryMiB: Int
    /// A virtio memory balloon, needed to change memory online.
    public var balloon: Bool
    public var disks: [Disk]
    public var nics: [NIC]

    public struct Disk: Codable, Sendable, Equatable {
        /// `vda`, `sdb`, …
        public var target: String
        /// `virtio`, `sata`, `scsi`, `ide`, …
        public var bus: String
        /// `disk` or `cdrom`.
        public var device: String
        public var source: String?
        /// Capacity the guest sees, when known.
        public var sizeBytes: UInt64?
        public init(target: String, bus: String, device: String = "disk", source: String? = nil, sizeBytes: UInt64? = nil) {
            self.target = target
            self.bus = bus
            self.device = device
            self.source = source
            self.sizeBytes = sizeBytes
        }
    }

    public struct NIC: Codable, Sendable, Equatable {
        public var mac: String
        /// `user`, `network`, `bridge`, …
        public var kind: String
        public var source: String?
        public var model: String?
        public init(mac: String, kind: String, source: String? = nil, model: String? = nil) {
            self.mac = mac
            self.kind = kind
            self.source = source
            self.model = model
        }
    }

    public init(vcpus: Int, maxVcpus: Int, memoryMiB: Int, maxMemoryMiB: Int, balloon: Bool, disks: [Disk] = [], nics: [NIC] = []) {
        self.vcpus = vcpus
        self.maxVcpus = maxVcpus
        self.memoryMiB = memoryMiB
        self.maxMemoryMiB = maxMemoryMiB
        self.balloon = balloon
        self.disks = disks
        self.nics = nics
    }
}

/// When a hardware change takes effect.
public enum HardwareEffect: String, Codable, Sendable {
    /// Applied to the running VM (and its definition).
    case now
    /// Stored in the definition only: the VM is off, or the guest cannot take it online.
    case nextBoot = "next-boot"
}

/// `PUT /v1/vms/{vm}/hardware/cpu` body.
public struct CPUChangeRequest: Codable, Sendable {
    public var vcpus: Int
    /// A new maximum (next boot only).
    public var max: Int?
    /// Change the definition only, even when the VM runs.
    public var nextBoot: Bool?
    public init(vcpus: Int, max: Int? = nil, nextBoot: Bool? = nil) {
        self.vcpus = vcpus
        self.max = max
        self.nextBoot = nextBoot
    }
}

/// `PUT /v1/vms/{vm}/hardware/memory` body.
public struct MemoryChangeRequest: Codable, Sendable {
    public var mib: Int
    /// A new maximum (next boot only).
    public var maxMiB: Int?
    public var nextBoot: Bool?
    public init(mib: Int, maxMiB: Int? = nil, nextBoot: Bool? = nil) {
        self.mib = mib
        self.maxMiB = maxMiB
        self.nextBoot = nextBoot
    }
}

/// `POST /v1/vms/{vm}/hardware/disks` body: a new qcow2 disk.
public struct DiskAddRequest: Codable, Sendable {
    public var sizeMiB: Int
    /// Where the qcow2 file goes (absolute), or
    public var directory: String?
    /// a libvirt storage pool (dir, fs, netfs) to make it as a volume of.
    public var pool: String?
    /// `virtio` (default), `sata`, `scsi` or `ide`; only virtio can be added online.
    public var bus: String?
    public var nextBoot: Bool?
    public init(sizeMiB: Int, directory: String? = nil, pool: String? = nil, bus: String? = nil, nextBoot: Bool? = nil) {
        self.sizeMiB = sizeMiB
        self.directory = directory
        self.pool = pool
        self.bus = bus
        self.nextBoot = nextBoot
    }
}

/// `POST /v1/vms/{vm}/hardware/disks/{target}/grow` body: the new total size.
public struct DiskGrowRequest: Codable, Sendable {
    public var sizeMiB: Int
    public init(sizeMiB: Int) { self.sizeMiB = sizeMiB }
}

/// `POST /v1/vms/{vm}/hardware/nics` body.
public struct NICAddRequest: Codable, Sendable {
    /// `user`, `network` or `bridge`.
    public var kind: String
    public var source: String?
    /// Chosen by vigild when absent.
    public var mac: String?
    /// `virtio` (default), `e1000`, …
    public var model: String?
    public var nextBoot: Bool?
    public init(kind: String, source: String? = nil, mac: String? = nil, model: String? = nil, nextBoot: Bool? = nil) {
        self.kind = kind
        self.source = source
        self.mac = mac
        self.model = model
        self.nextBoot = nextBoot
    }
}

/// The reply to every hardware change.
public struct HardwareChangeResult: Codable, Sendable {
    public var vm: String
    /// What changed, e.g. "vCPUs 1 → 2".
    public var change: String
    public var effective: HardwareEffect
    /// The disk target or NIC MAC the change concerns.
    public var device: String?
    /// The disk file (added, kept or deleted).
    public var path: String?
    /// Details: why next boot, a file kept, what the guest sees.
    public var notes: [String]
    /// What the guest sees afterwards, when the change was online and the agent answered.
    public var guest: AgentMessage.Inventory?

    public init(vm: String, change: String, effective: HardwareEffect, device: String? = nil, path: String? = nil,
                notes: [String] = [], guest: AgentMessage.Inventory? = nil) {
        self.vm = vm
        self.change = change
        self.effective = effective
        self.device = device
        self.path = path
        self.notes = notes
        self.guest = guest
    }
}
