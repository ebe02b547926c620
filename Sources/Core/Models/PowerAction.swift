/// What an administrator can do to a VM's power state (`POST /v1/vms/{vm}/power`).
public enum PowerAction: String, Codable, Sendable, CaseIterable {
    case start
    /// ACPI power button: the guest shuts itself down.
    case shutdown
    /// Shutdown through the guest agent's qemu-guest-agent channel.
    case shutdownAgent = "shutdown-agent"
    /// Pulls the plug; needs `force` (unsaved guest data is lost).
    case poweroff
    case pause, resume
    /// Memory to disk (libvirt managed save), then off; `wake` restores it.
    case hibernate, wake
    case reboot
}

/// `POST /v1/vms/{vm}/power` body.
public struct PowerRequest: Codable, Sendable {
    public var action: PowerAction
    public var force: Bool?
    public init(action: PowerAction, force: Bool? = nil) {
        self.action = action
        self.force = force
    }
}

/// `PUT /v1/vms/{vm}/autostart` body.
public struct AutostartRequest: Codable, Sendable {
    public var enabled: Bool
    public init(enabled: Bool) { self.enabled = enabled }
}
