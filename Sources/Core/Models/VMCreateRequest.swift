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
    /// Direct kernel boot (no boot loader; `boot` is then unused): files on
    /// vigild's host, readable by QEMU. `initrd` and `cmdline` need `kernel`.
    public var kernel: String?
    public var initrd: String?
    public var cmdline: String?
    /// The serial console (port 0) written to this file instead of a pty.
    public var consoleLog: String?
    /// A second serial port (1) on this unix socket (libvirt binds it), e.g. for a root shell.
    public var serialSocket: String?

    /// A new disk, in a storage directory or in a libvirt storage pool (one of the two).
    public struct DiskSpec: Codable, Sendable {
        /// GiB; 0 with `base`: the base's size.
        public var sizeGiB: Double
        /// Where the disk file goes (a storage directory every host that may run the VM sees).
        public var directory: String?
        /// A libvirt storage pool whose volumes are files (dir, fs, netfs):
        /// the disk is made as a qcow2 volume of it.
        public var pool: String?
        /// The new disk is a qcow2 overlay on this image (a golden image, never
        /// written: its data shows through, writes go to the overlay). Directory disks only.
        public var base: String?
        public init(sizeGiB: Double, directory: String? = nil, pool: String? = nil, base: String? = nil) {
            self.sizeGiB = sizeGiB
            self.directory = directory
            self.pool = pool
            self.base = base
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
                virtType: String? = nil, start: Bool? = nil, kernel: String? = nil, initrd: String? = nil, cmdline: String? = nil,
                consoleLog: String? = nil, serialSocket: String? = nil) {
        self.name = name
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.disks = disks
        self.nics = nics
        self.boot = boot
        self.virtType = virtType
        self.start = start
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
        self.consoleLog = consoleLog
        self.serialSocket = serialSocket
    }
}
