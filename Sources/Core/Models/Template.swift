/// A VM template: a definition plus read-only disk images with the
/// checksums recorded when it was made (`template.json` in its directory).
public struct TemplateInfo: Codable, Sendable, Equatable {
    public struct Disk: Codable, Sendable, Equatable {
        /// Guest device, e.g. "vda".
        public var target: String
        /// File name inside the template's directory.
        public var file: String
        public var format: String
        public var virtualSize: Int64
        /// SHA-256 of the image file, hex.
        public var sha256: String

        public init(target: String, file: String, format: String, virtualSize: Int64, sha256: String) {
            self.target = target
            self.file = file
            self.format = format
            self.virtualSize = virtualSize
            self.sha256 = sha256
        }
    }

    public var name: String
    public var description: String?
    /// Seconds since 1970.
    public var created: Double
    /// Where it came from: a VM's name, or an imported file.
    public var source: String?
    public var vcpus: Int
    public var memoryMiB: Int
    public var disks: [Disk]
    /// VMs on this host whose disks are overlays on this template's images
    /// (filled in by vigild when listing; not stored).
    public var linkedClones: [String]?

    public init(name: String, description: String? = nil, created: Double, source: String?, vcpus: Int, memoryMiB: Int,
                disks: [Disk], linkedClones: [String]? = nil) {
        self.name = name
        self.description = description
        self.created = created
        self.source = source
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.disks = disks
        self.linkedClones = linkedClones
    }
}

/// `GET /v1/templates` body.
public struct TemplateList: Codable, Sendable {
    public var templates: [TemplateInfo]
    public init(templates: [TemplateInfo]) { self.templates = templates }
}

/// `POST /v1/templates`: make a template from a VM.
public struct TemplateCreateRequest: Codable, Sendable, Equatable {
    public var name: String
    public var vm: String
    /// true: the VM becomes the template (it must be shut off and is
    /// undefined); false: its disks are copied and it stays.
    public var convert: Bool
    public var description: String?

    public init(name: String, vm: String, convert: Bool = false, description: String? = nil) {
        self.name = name
        self.vm = vm
        self.convert = convert
        self.description = description
    }
}

/// `POST /v1/templates/{name}/deploy`: a new VM from a template.
public struct TemplateDeployRequest: Codable, Sendable, Equatable {
    public var name: String
    /// full: copies of the images; linked: overlays on them.
    public var mode: CloneRequest.Mode
    /// Where the VM's disks go (default: vigild's --vm-dir, else the template directory's parent).
    public var directory: String?
    public var start: Bool

    public init(name: String, mode: CloneRequest.Mode = .full, directory: String? = nil, start: Bool = false) {
        self.name = name
        self.mode = mode
        self.directory = directory
        self.start = start
    }
}

/// `PATCH /v1/templates/{name}`: absent fields keep their value.
public struct TemplateEditRequest: Codable, Sendable, Equatable {
    public var vcpus: Int?
    public var memoryMiB: Int?
    public var description: String?
    /// New virtual sizes in GiB by disk target (grow only).
    public var growDisks: [String: Double]?
    /// Sizes in GiB of new, empty virtio disks to add.
    public var addDisks: [Double]?

    public init(vcpus: Int? = nil, memoryMiB: Int? = nil, description: String? = nil, growDisks: [String: Double]? = nil,
                addDisks: [Double]? = nil) {
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.description = description
        self.growDisks = growDisks
        self.addDisks = addDisks
    }
}

/// Export to / import from a file (`path` on vigild's host).
public struct TemplateFileRequest: Codable, Sendable, Equatable {
    public var path: String
    /// Import: the template's name (default: the archive's, or the OVF's VM name).
    public var name: String?
    /// OVA import: the libvirt network NICs join (default: user-mode networking).
    public var network: String?
    /// OVA import: kvm or qemu (default kvm).
    public var virtType: String?

    public init(path: String, name: String? = nil, network: String? = nil, virtType: String? = nil) {
        self.path = path
        self.name = name
        self.network = network
        self.virtType = virtType
    }
}
