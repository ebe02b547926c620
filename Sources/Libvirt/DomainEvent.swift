import CLibvirt

/// One event libvirt reported about a domain.
public struct DomainEvent: Sendable, Equatable {
    public let domainName: String
    public let domainUUID: String
    public let kind: Kind
    /// When libvirt's callback delivered it (for latency measurements).
    public let receivedAt: ContinuousClock.Instant

    public init(domainName: String, domainUUID: String, kind: Kind, receivedAt: ContinuousClock.Instant = .now) {
        self.domainName = domainName
        self.domainUUID = domainUUID
        self.kind = kind
        self.receivedAt = receivedAt
    }

    public enum Kind: Sendable, Equatable {
        case lifecycle(LifecycleEvent)
        case reboot
        case watchdog(WatchdogAction)
        /// The qemu-guest-agent channel's host side connected or disconnected.
        case agentLifecycle(connected: Bool, reason: Int32)
        case jobCompleted([String: TypedValue])
        case migrationIteration(Int32)
        case blockJob(disk: String, type: Int32, status: BlockJobStatus)
        case deviceRemoved(alias: String)
    }
}

/// A lifecycle change (`virDomainEventType` plus its detail).
public struct LifecycleEvent: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Int32, Sendable {
        case defined = 0, undefined, started, suspended, resumed, stopped, shutdown, pmSuspended, crashed
    }

    public let kind: Kind
    public let detail: Int32

    public init(kind: Kind, detail: Int32) {
        self.kind = kind
        self.detail = detail
    }

    /// Crashed with the guest's pvpanic notification.
    public var isPanic: Bool { kind == .crashed && detail == Int32(VIR_DOMAIN_EVENT_CRASHED_PANICKED.rawValue) }

    public var detailName: String {
        let names: [String]
        switch kind {
        case .defined: names = ["added", "updated", "renamed", "from snapshot"]
        case .undefined: names = ["removed", "renamed"]
        case .started: names = ["booted", "migrated", "restored", "from snapshot", "wakeup", "recreated"]
        case .suspended:
            names = ["paused", "migrated", "I/O error", "watchdog", "restored", "from snapshot", "api error",
                     "postcopy", "postcopy failed"]
        case .resumed: names = ["unpaused", "migrated", "from snapshot", "postcopy", "postcopy failed"]
        case .stopped: names = ["shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot"]
        case .shutdown: names = ["finished", "guest", "host"]
        case .pmSuspended: names = ["memory", "disk"]
        case .crashed: names = ["panicked", "crashloaded"]
        }
        return detail >= 0 && Int(detail) < names.count ? names[Int(detail)] : "detail \(detail)"
    }

    public var description: String {
        let kindName: String = switch kind {
        case .defined: "Defined"
        case .undefined: "Undefined"
        case .started: "Started"
        case .suspended: "Suspended"
        case .resumed: "Resumed"
        case .stopped: "Stopped"
        case .shutdown: "Shutdown"
        case .pmSuspended: "PMSuspended"
        case .crashed: "Crashed"
        }
        return "\(kindName) \(detailName)"
    }
}

/// What the virtual watchdog device did (`virDomainEventWatchdogAction`).
public enum WatchdogAction: Int32, Sendable {
    case none = 0, pause, reset, powerOff, shutdown, debug, injectNMI
}

public enum BlockJobStatus: Int32, Sendable {
    case completed = 0, failed, canceled, ready
}

/// A value of a libvirt typed parameter.
public enum TypedValue: Sendable, Equatable {
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case string(String)

    init(_ p: virTypedParameter) {
        switch Int32(p.type) {
        case Int32(VIR_TYPED_PARAM_INT.rawValue): self = .int(Int64(p.value.i))
        case Int32(VIR_TYPED_PARAM_UINT.rawValue): self = .uint(UInt64(p.value.ui))
        case Int32(VIR_TYPED_PARAM_LLONG.rawValue): self = .int(Int64(p.value.l))
        case Int32(VIR_TYPED_PARAM_ULLONG.rawValue): self = .uint(UInt64(p.value.ul))
        case Int32(VIR_TYPED_PARAM_DOUBLE.rawValue): self = .double(p.value.d)
        case Int32(VIR_TYPED_PARAM_BOOLEAN.rawValue): self = .bool(p.value.b != 0)
        case Int32(VIR_TYPED_PARAM_STRING.rawValue): self = .string(p.value.s.map { String(cString: $0) } ?? "")
        default: self = .string("")
        }
    }

    static func dictionary(_ params: UnsafeMutablePointer<virTypedParameter>?, count: Int32) -> [String: TypedValue] {
        guard let params, count > 0 else { return [:] }
        var result: [String: TypedValue] = [:]
        for i in 0..<Int(count) {
            var field = params[i].field
            let name = withUnsafeBytes(of: &field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            result[name] = TypedValue(params[i])
        }
        return result
    }
}
