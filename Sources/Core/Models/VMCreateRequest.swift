/// `POST /v1/vms` body: a new VM from parameters.
public struct VMCreateRequest: Codable, Sendable {
    public var name: String
    public var vcpus: Int
    public var memoryMiB: Int
    /// New qcow2 disks, in order (the first is vda).
    public var disks: [DiskSpec]
    public var nics: [NICSpec]
    /// Boot devices in order: `hd`, `network`, `cdrom`.
    public var boot: [String]
    /// libvirt domain type: `kvm` (default) or `qemu` (TCG, no KVM needed).
    public var virtType: String?
    public var start: Bool?

    /// A new disk, in a storage directory or in a libvirt storage pool (one of the two).
    public struct DiskSpec: Codable, Sendable {
        public var sizeGiB: Double
        /// Where the disk file goes (a storage directory every host that may run the VM sees).
        public var directory: String?
        /// A libvirt storage pool whose volumes are files (dir, fs, netfs):
        /// the disk is made as a qcow2 volume of it.
        public var pool: String?
        public init(sizeGiB: Double, directory: String? = nil, pool: String? = nil) {
            self.sizeGiB = sizeGiB
            self.directory = directory
            self.pool = pool
        }
    }

    public struct NICSpec: Codable, Sendable {
        /// `user` (QEMU user-mode networking), `network` (a libvirt network) or `bridge`.
        public var kind: String
        /// The network or bridge name.
        public var source: String?
        public var mac: String?
        public init(kind: String, source: String? = nil, mac: String? = nil) {
            self.kind = kind
            self.source = source
            self.mac = mac
        }
    }

    public init(name: String, vcpus: Int, memoryMiB: Int, disks: [DiskSpec], nics: [NICSpec], boot: [String],
                virtType: String? = nil, start: Bool? = nil) {
        self.name = name
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.disks = disks
        self.nics = nics
        self.boot = boot
        self.virtType = virtType
        self.start = start
    }
}
