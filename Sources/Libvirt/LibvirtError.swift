import CLibvirt

/// An error reported by libvirt, captured in the same synchronous call that
/// failed: libvirt's last error is per-thread and would be lost (or replaced)
/// across an `await`.
public struct LibvirtError: Error, CustomStringConvertible, Sendable, Equatable {
    /// libvirt's `virErrorNumber`. A struct rather than an enum so codes that
    /// newer libvirt versions add still round-trip.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let ok = Code(rawValue: Int32(VIR_ERR_OK.rawValue))
        public static let internalError = Code(rawValue: Int32(VIR_ERR_INTERNAL_ERROR.rawValue))
        public static let noConnect = Code(rawValue: Int32(VIR_ERR_NO_CONNECT.rawValue))
        public static let invalidConnection = Code(rawValue: Int32(VIR_ERR_INVALID_CONN.rawValue))
        public static let invalidDomain = Code(rawValue: Int32(VIR_ERR_INVALID_DOMAIN.rawValue))
        public static let invalidArgument = Code(rawValue: Int32(VIR_ERR_INVALID_ARG.rawValue))
        public static let operationFailed = Code(rawValue: Int32(VIR_ERR_OPERATION_FAILED.rawValue))
        public static let operationDenied = Code(rawValue: Int32(VIR_ERR_OPERATION_DENIED.rawValue))
        public static let operationInvalid = Code(rawValue: Int32(VIR_ERR_OPERATION_INVALID.rawValue))
        public static let operationUnsupported = Code(rawValue: Int32(VIR_ERR_OPERATION_UNSUPPORTED.rawValue))
        public static let noSupport = Code(rawValue: Int32(VIR_ERR_NO_SUPPORT.rawValue))
        public static let noDomain = Code(rawValue: Int32(VIR_ERR_NO_DOMAIN.rawValue))
        public static let domainExists = Code(rawValue: Int32(VIR_ERR_DOM_EXIST.rawValue))
        public static let xmlDetail = Code(rawValue: Int32(VIR_ERR_XML_DETAIL.rawValue))
        public static let xmlError = Code(rawValue: Int32(VIR_ERR_XML_ERROR.rawValue))
        public static let noDomainMetadata = Code(rawValue: Int32(VIR_ERR_NO_DOMAIN_METADATA.rawValue))
        public static let systemError = Code(rawValue: Int32(VIR_ERR_SYSTEM_ERROR.rawValue))
        public static let rpc = Code(rawValue: Int32(VIR_ERR_RPC.rawValue))
        public static let authFailed = Code(rawValue: Int32(VIR_ERR_AUTH_FAILED.rawValue))
        public static let migrateUnsafe = Code(rawValue: Int32(VIR_ERR_MIGRATE_UNSAFE.rawValue))
        public static let noNetwork = Code(rawValue: Int32(VIR_ERR_NO_NETWORK.rawValue))
        public static let agentUnresponsive = Code(rawValue: Int32(VIR_ERR_AGENT_UNRESPONSIVE.rawValue))
        public static let agentUnsynced = Code(rawValue: Int32(VIR_ERR_AGENT_UNSYNCED.rawValue))
        public static let operationTimeout = Code(rawValue: Int32(VIR_ERR_OPERATION_TIMEOUT.rawValue))
        public static let noStoragePool = Code(rawValue: Int32(VIR_ERR_NO_STORAGE_POOL.rawValue))
        public static let noStorageVolume = Code(rawValue: Int32(VIR_ERR_NO_STORAGE_VOL.rawValue))
        public static let noDomainSnapshot = Code(rawValue: Int32(VIR_ERR_NO_DOMAIN_SNAPSHOT.rawValue))
        public static let noDomainCheckpoint = Code(rawValue: Int32(VIR_ERR_NO_DOMAIN_CHECKPOINT.rawValue))
    }

    /// libvirt's `virErrorDomain`: which part of libvirt raised the error.
    public struct Domain: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let none = Domain(rawValue: Int32(VIR_FROM_NONE.rawValue))
        public static let qemu = Domain(rawValue: Int32(VIR_FROM_QEMU.rawValue))
        public static let remote = Domain(rawValue: Int32(VIR_FROM_REMOTE.rawValue))
        public static let test = Domain(rawValue: Int32(VIR_FROM_TEST.rawValue))
        public static let domain = Domain(rawValue: Int32(VIR_FROM_DOM.rawValue))
        public static let rpc = Domain(rawValue: Int32(VIR_FROM_RPC.rawValue))
    }

    public let code: Code
    public let domain: Domain
    public let message: String
    /// What the caller was doing, e.g. "start domain 'web1'".
    public let operation: String

    public init(code: Code, domain: Domain, message: String, operation: String) {
        self.code = code
        self.domain = domain
        self.message = message
        self.operation = operation
    }

    public var description: String {
        "\(operation): \(message) (libvirt error \(code.rawValue), domain \(domain.rawValue))"
    }

    /// True when the connection to libvirtd itself is gone (daemon restarted,
    /// socket closed), as opposed to a failed operation.
    public var isConnectionLost: Bool {
        code == .noConnect || code == .invalidConnection
            || (code == .systemError && domain == .rpc) || domain == .rpc && code == .rpc
    }

    /// Reads and resets this thread's last libvirt error. Call it right after
    /// the failing C call, before any suspension point.
    static func capture(_ operation: String) -> LibvirtError {
        guard let err = virGetLastError() else {
            return LibvirtError(code: .internalError, domain: .none,
                                message: "libvirt reported failure without an error", operation: operation)
        }
        let message = err.pointee.message.map { String(cString: $0) } ?? "unknown libvirt error"
        let result = LibvirtError(code: Code(rawValue: err.pointee.code),
                                  domain: Domain(rawValue: err.pointee.domain),
                                  message: message, operation: operation)
        virResetLastError()
        return result
    }
}

/// libvirt prints every error to stderr unless a handler is installed; the
/// daemon logs errors itself, so silence the default printer once.
enum ErrorReporting {
    static let silenced: Void = {
        virSetErrorFunc(nil) { _, _ in }
    }()
}
