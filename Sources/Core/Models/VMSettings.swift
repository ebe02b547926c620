/// Per-VM Vigil settings that libvirt has no field for, stored in the
/// domain's metadata (`urn:vigil:settings:1`) so they travel with it.
public struct VMSettings: Codable, Sendable, Equatable {
    /// vigild keeps the guest clock on the host's time (on by default).
    public var timeSync: Bool
    /// vigild upgrades the guest's agent from its repository when a newer build exists.
    public var autoUpgrade: Bool
    /// High availability: vigild recovers the VM when its guest fails. Off:
    /// failures are only recorded (whatever the crash policy says).
    public var haEnabled: Bool
    /// Order of recoveries when several VMs need one at once (high first).
    public var haPriority: HAPriority
    /// May be moved by automatic balancing (DRS/DPM) when there is one.
    public var autoMigrate: Bool

    public init(timeSync: Bool = true, autoUpgrade: Bool = false, haEnabled: Bool = true,
                haPriority: HAPriority = .medium, autoMigrate: Bool = true) {
        self.timeSync = timeSync
        self.autoUpgrade = autoUpgrade
        self.haEnabled = haEnabled
        self.haPriority = haPriority
        self.autoMigrate = autoMigrate
    }
}

/// HA restart priority, as CAS and vSphere name it.
public enum HAPriority: String, Codable, Sendable, CaseIterable, Comparable {
    case high, medium, low

    /// Sort key: high first.
    public var rank: Int {
        switch self {
        case .high: 0
        case .medium: 1
        case .low: 2
        }
    }

    public static func < (a: HAPriority, b: HAPriority) -> Bool { a.rank < b.rank }
}

/// `GET/PUT /v1/vms/{vm}/settings` body: every per-VM setting, wherever it
/// is kept (libvirt's `<title>`, `<description>`, `<blkiotune>`; the crash
/// policy; Vigil's settings metadata). In a PUT, absent fields keep their
/// value; an empty `displayName` or `description` removes it.
public struct VMSettingsDocument: Codable, Sendable, Equatable {
    public var vm: String?
    /// libvirt `<title>` (one line).
    public var displayName: String?
    /// libvirt `<description>`.
    public var description: String?
    /// libvirt `<blkiotune><weight>`, 100-1000 (nil in a GET: libvirt's default).
    public var ioWeight: Int?
    /// The crash policy's action (`urn:vigil:policy:1`).
    public var onCrash: CrashAction?
    public var haEnabled: Bool?
    public var haPriority: HAPriority?
    public var autoMigrate: Bool?
    public var timeSync: Bool?
    public var autoUpgrade: Bool?
    /// In a PUT reply: what did not take effect at once, and why.
    public var notes: [String]?

    public static let ioWeightRange = 100...1000
    public static let displayNameMaxLength = 256
    public static let descriptionMaxLength = 16_384

    public init(vm: String? = nil, displayName: String? = nil, description: String? = nil, ioWeight: Int? = nil,
                onCrash: CrashAction? = nil, haEnabled: Bool? = nil, haPriority: HAPriority? = nil,
                autoMigrate: Bool? = nil, timeSync: Bool? = nil, autoUpgrade: Bool? = nil) {
        self.vm = vm
        self.displayName = displayName
        self.description = description
        self.ioWeight = ioWeight
        self.onCrash = onCrash
        self.haEnabled = haEnabled
        self.haPriority = haPriority
        self.autoMigrate = autoMigrate
        self.timeSync = timeSync
        self.autoUpgrade = autoUpgrade
    }

    /// Fills the fields kept in Vigil's settings metadata.
    public mutating func fill(from s: VMSettings) {
        haEnabled = s.haEnabled
        haPriority = s.haPriority
        autoMigrate = s.autoMigrate
        timeSync = s.timeSync
        autoUpgrade = s.autoUpgrade
    }

    /// Applies the metadata fields present here to `s`.
    public func apply(to s: inout VMSettings) {
        if let v = haEnabled { s.haEnabled = v }
        if let v = haPriority { s.haPriority = v }
        if let v = autoMigrate { s.autoMigrate = v }
        if let v = timeSync { s.timeSync = v }
        if let v = autoUpgrade { s.autoUpgrade = v }
    }

    /// Problems with the values of a change, each saying what is accepted.
    public var problems: [String] {
        var p: [String] = []
        if let w = ioWeight, !Self.ioWeightRange.contains(w) {
            p.append("I/O weight must be \(Self.ioWeightRange.lowerBound) to \(Self.ioWeightRange.upperBound), got \(w)")
        }
        if let n = displayName {
            if n.count > Self.displayNameMaxLength { p.append("display name must be at most \(Self.displayNameMaxLength) characters") }
            if n.contains(where: \.isNewline) { p.append("display name must be one line") }
        }
        if let d = description, d.count > Self.descriptionMaxLength {
            p.append("description must be at most \(Self.descriptionMaxLength) characters")
        }
        return p
    }
}
