/// Per-VM Vigil settings that libvirt has no field for, stored in the
/// domain's metadata (`urn:vigil:settings:1`) so they travel with it.
public struct VMSettings: Codable, Sendable, Equatable {
    /// vigild keeps the guest clock on the host's time (on by default).
    public var timeSync: Bool
    /// vigild upgrades the guest's agent from its repository when a newer build exists.
    public var autoUpgrade: Bool

    public init(timeSync: Bool = true, autoUpgrade: Bool = false) {
        self.timeSync = timeSync
        self.autoUpgrade = autoUpgrade
    }
}

/// `GET/PUT /v1/vms/{vm}/settings` body. In a PUT, absent fields keep their value.
public struct VMSettingsDocument: Codable, Sendable, Equatable {
    public var vm: String?
    public var timeSync: Bool?
    public var autoUpgrade: Bool?

    public init(vm: String? = nil, timeSync: Bool? = nil, autoUpgrade: Bool? = nil) {
        self.vm = vm
        self.timeSync = timeSync
        self.autoUpgrade = autoUpgrade
    }

    public init(vm: String, _ s: VMSettings) {
        self.init(vm: vm, timeSync: s.timeSync, autoUpgrade: s.autoUpgrade)
    }
}
