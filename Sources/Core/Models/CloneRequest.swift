/// `POST /v1/vms/{vm}/clone` body.
public struct CloneRequest: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// An independent copy of every disk.
        case full
        /// qcow2 overlays on the source's disks, which become a read-only base.
        case linked
    }

    /// The new VM's name.
    public var name: String
    public var mode: Mode
    /// Where the new disks go (default: next to the source's disks).
    public var directory: String?
    /// Another cluster host's libvirt URI to define the clone on (its disks
    /// must then be on shared storage).
    public var host: String?
    /// Start the clone when it is made.
    public var start: Bool

    public init(name: String, mode: Mode = .full, directory: String? = nil, host: String? = nil, start: Bool = false) {
        self.name = name
        self.mode = mode
        self.directory = directory
        self.host = host
        self.start = start
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        mode = try c.decodeIfPresent(Mode.self, forKey: .mode) ?? .full
        directory = try c.decodeIfPresent(String.self, forKey: .directory)
        host = try c.decodeIfPresent(String.self, forKey: .host)
        start = try c.decodeIfPresent(Bool.self, forKey: .start) ?? false
    }
}
