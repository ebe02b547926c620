/// Every command this agent answers, by its QGA wire name.
enum QGACommand: String, CaseIterable, Sendable {
    case sync = "guest-sync"
    case syncDelimited = "guest-sync-delimited"
    case ping = "guest-ping"
    case info = "guest-info"
    case getTime = "guest-get-time"
    case setTime = "guest-set-time"
    case getOSInfo = "guest-get-osinfo"
    case getHostName = "guest-get-host-name"
    case getTimezone = "guest-get-timezone"
    case getUsers = "guest-get-users"
    case networkGetInterfaces = "guest-network-get-interfaces"
    case getFSInfo = "guest-get-fsinfo"
    case getDisks = "guest-get-disks"
    case fsfreezeStatus = "guest-fsfreeze-status"
    case fsfreezeFreeze = "guest-fsfreeze-freeze"
    case fsfreezeFreezeList = "guest-fsfreeze-freeze-list"
    case fsfreezeThaw = "guest-fsfreeze-thaw"
    case shutdown = "guest-shutdown"

    /// guest-shutdown answers nothing on success: the host sees the guest go down.
    var successResponse: Bool { self != .shutdown }

    /// While filesystems are frozen, anything that might write to them
    /// (or take long) is refused, as qemu-ga does, so the host can always thaw.
    var allowedWhileFrozen: Bool {
        switch self {
        case .sync, .syncDelimited, .ping, .info, .fsfreezeStatus, .fsfreezeFreeze, .fsfreezeFreezeList, .fsfreezeThaw:
            return true
        default:
            return false
        }
    }
}
