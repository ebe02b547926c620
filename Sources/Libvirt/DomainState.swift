import CLibvirt

/// A domain's state (`virDomainState`).
public enum DomainState: Int32, Sendable, Codable, CustomStringConvertible {
    case noState = 0, running, blocked, paused, shutdown, shutoff, crashed, pmSuspended

    public var description: String {
        switch self {
        case .noState: "nostate"
        case .running: "running"
        case .blocked: "blocked"
        case .paused: "paused"
        case .shutdown: "shutdown"
        case .shutoff: "shutoff"
        case .crashed: "crashed"
        case .pmSuspended: "pmsuspended"
        }
    }
}

/// A state together with libvirt's reason code for it, e.g. crashed/panicked.
public struct DomainStateWithReason: Sendable, Equatable, CustomStringConvertible {
    public let state: DomainState
    public let reason: Int32

    public init(state: DomainState, reason: Int32) {
        self.state = state
        self.reason = reason
    }

    /// The reason's name as `virsh domstate --reason` spells it.
    public var reasonName: String {
        let names: [String]
        switch state {
        case .noState, .blocked: names = ["unknown"]
        case .running:
            names = ["unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
                     "migration canceled", "save canceled", "event wakeup", "crashed", "post-copy",
                     "post-copy failed"]
        case .paused:
            names = ["unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog",
                     "from snapshot", "shutting down", "creating snapshot", "crashed", "starting up",
                     "post-copy", "post-copy failed", "api error"]
        case .shutdown: names = ["unknown", "user"]
        case .shutoff:
            names = ["unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
                     "from snapshot", "daemon"]
        case .crashed: names = ["unknown", "panicked"]
        case .pmSuspended: names = ["unknown"]
        }
        return reason >= 0 && Int(reason) < names.count ? names[Int(reason)] : "reason \(reason)"
    }

    public var isPanicked: Bool {
        state == .crashed && reason == Int32(VIR_DOMAIN_CRASHED_PANICKED.rawValue)
    }

    /// Reset after a panic but not resumed yet: libvirt pauses a crashed
    /// domain on reset, so its vCPUs wait for a resume.
    public var isPausedAfterCrash: Bool {
        state == .paused && reason == Int32(VIR_DOMAIN_PAUSED_CRASHED.rawValue)
    }

    /// A post-copy migration lost its link: the guest's memory is split
    /// between the two hosts.
    public var isPostcopyFailed: Bool {
        (state == .paused && reason == Int32(VIR_DOMAIN_PAUSED_POSTCOPY_FAILED.rawValue))
            || (state == .running && reason == Int32(VIR_DOMAIN_RUNNING_POSTCOPY_FAILED.rawValue))
    }

    public var description: String { "\(state) (\(reasonName))" }
}

/// `virDomainGetInfo` figures.
public struct DomainInfo: Sendable, Equatable {
    public let state: DomainState
    public let maxMemoryKiB: UInt64
    public let memoryKiB: UInt64
    public let vcpus: Int
    /// CPU time used, in nanoseconds.
    public let cpuTimeNs: UInt64
}
