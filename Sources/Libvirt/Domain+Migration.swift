import CLibvirt
import Glibc

/// Migration with libvirt's typed parameters (`virDomainMigrateToURI3`):
/// peer-to-peer, so libvirtd on this host drives the whole move and it
/// survives the caller's death.
extension Domain {
    public struct MigrationFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let live = Self(rawValue: VIR_MIGRATE_LIVE.rawValue)
        public static let peerToPeer = Self(rawValue: VIR_MIGRATE_PEER2PEER.rawValue)
        public static let persistDestination = Self(rawValue: VIR_MIGRATE_PERSIST_DEST.rawValue)
        public static let undefineSource = Self(rawValue: VIR_MIGRATE_UNDEFINE_SOURCE.rawValue)
        public static let offline = Self(rawValue: VIR_MIGRATE_OFFLINE.rawValue)
        /// The disks are on storage both hosts see, though libvirt cannot tell (a plain shared directory).
        public static let unsafe = Self(rawValue: VIR_MIGRATE_UNSAFE.rawValue)
        public static let compressed = Self(rawValue: VIR_MIGRATE_COMPRESSED.rawValue)
        public static let autoConverge = Self(rawValue: VIR_MIGRATE_AUTO_CONVERGE.rawValue)
        public static let postcopy = Self(rawValue: VIR_MIGRATE_POSTCOPY.rawValue)
        /// Disks copied over NBD to images that already exist on the destination.
        public static let copyStorage = Self(rawValue: VIR_MIGRATE_NON_SHARED_DISK.rawValue)
        public static let abortOnError = Self(rawValue: VIR_MIGRATE_ABORT_ON_ERROR.rawValue)
    }

    /// What `virDomainMigrateToURI3` takes besides flags.
    public struct MigrationParameters: Sendable {
        public var bandwidthMiBs: UInt64?
        /// The cap once in post-copy (QEMU's default there is none).
        public var postcopyBandwidthMiBs: UInt64?
        /// `xbzrle` and/or `mt` (with `.compressed`).
        public var compression: [String] = []
        public var compressionLevel: Int32?
        public var compressionThreads: Int32?
        /// The definition to run (and keep) on the destination, e.g. with new disk paths.
        public var destinationXML: String?
        public var persistentXML: String?
        /// Disks (targets) to copy with `.copyStorage`; empty: every writable disk.
        public var disks: [String] = []
        public init() {}
    }

    /// Moves the domain to `destinationURI` (another host's libvirtd).
    public func migrate(toURI destinationURI: String, flags: MigrationFlags, parameters: MigrationParameters) throws(LibvirtError) {
        var params: UnsafeMutablePointer<virTypedParameter>?
        var count: Int32 = 0, capacity: Int32 = 0
        defer { virTypedParamsFree(params, count) }
        var ok = true
        if let b = parameters.bandwidthMiBs { ok = ok && virTypedParamsAddULLong(&params, &count, &capacity, VIR_MIGRATE_PARAM_BANDWIDTH, b) == 0 }
        if let b = parameters.postcopyBandwidthMiBs {
            ok = ok && virTypedParamsAddULLong(&params, &count, &capacity, VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY, b) == 0
        }
        for method in parameters.compression {
            ok = ok && virTypedParamsAddString(&params, &count, &capacity, VIR_MIGRATE_PARAM_COMPRESSION, method) == 0
        }
        if let l = parameters.compressionLevel {
            ok = ok && virTypedParamsAddInt(&params, &count, &capacity, VIR_MIGRATE_PARAM_COMPRESSION_MT_LEVEL, l) == 0
        }
        if let t = parameters.compressionThreads {
            ok = ok && virTypedParamsAddInt(&params, &count, &capacity, VIR_MIGRATE_PARAM_COMPRESSION_MT_THREADS, t) == 0
        }
        if let x = parameters.destinationXML { ok = ok && virTypedParamsAddString(&params, &count, &capacity, VIR_MIGRATE_PARAM_DEST_XML, x) == 0 }
        if let x = parameters.persistentXML { ok = ok && virTypedParamsAddString(&params, &count, &capacity, VIR_MIGRATE_PARAM_PERSIST_XML, x) == 0 }
        for d in parameters.disks {
            ok = ok && virTypedParamsAddString(&params, &count, &capacity, VIR_MIGRATE_PARAM_MIGRATE_DISKS, d) == 0
        }
        guard ok else { throw .capture("build migration parameters for domain '\(name)'") }
        let flags = flags.union(.peerToPeer)
        try check(virDomainMigrateToURI3(ptr, destinationURI, params, UInt32(count), flags.rawValue), "migrate to \(destinationURI)")
    }

    /// The longest pause allowed at the end of a live migration (QEMU's default is 300 ms).
    public func setMaxMigrationDowntime(ms: UInt64) throws(LibvirtError) {
        try check(virDomainMigrateSetMaxDowntime(ptr, ms, 0), "set the migration downtime of")
    }

    /// Caps a running migration's bandwidth.
    public func setMigrationBandwidth(mibs: UInt) throws(LibvirtError) {
        try check(virDomainMigrateSetMaxSpeed(ptr, UInt(mibs), 0), "set the migration bandwidth of")
    }

    /// Switches a running post-copy-enabled migration to post-copy.
    public func startPostCopy() throws(LibvirtError) {
        try check(virDomainMigrateStartPostCopy(ptr, 0), "start post-copy of")
    }

    /// The running job's statistics (`completed`: the last finished one,
    /// which libvirt keeps on a migration's destination), by libvirt's names
    /// (`time_elapsed`, `downtime`, `data_total`, `memory_dirty_rate`,
    /// `memory_iteration`, `compression_bytes`, …).
    public func jobStatistics(completed: Bool = false) throws(LibvirtError) -> (kind: JobKind, values: [String: TypedValue]) {
        var type: Int32 = 0
        var params: UnsafeMutablePointer<virTypedParameter>?
        var count: Int32 = 0
        // Keep them for others (virsh domjobinfo --completed) rather than consume them.
        let flags = completed ? UInt32(VIR_DOMAIN_JOB_STATS_COMPLETED.rawValue | VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED.rawValue) : 0
        if virDomainGetJobStats(ptr, &type, &params, &count, flags) < 0 { throw .capture("get job statistics of domain '\(name)'") }
        defer { virTypedParamsFree(params, count) }
        var kind = JobKind(rawValue: type) ?? .none
        // The running job's: one that ended (cancelled, failed) is none.
        if !completed && kind != .bounded && kind != .unbounded { kind = .none }
        return (kind, TypedValue.dictionary(params, count: count))
    }
}

extension TypedValue {
    /// The value as an unsigned number (0 for strings).
    public var number: UInt64 {
        switch self {
        case .int(let v): UInt64(clamping: v)
        case .uint(let v): v
        case .double(let v): v.isFinite && v > 0 ? UInt64(v) : 0
        case .bool(let v): v ? 1 : 0
        case .string: 0
        }
    }
}
