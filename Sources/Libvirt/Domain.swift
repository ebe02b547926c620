import CLibvirt
import Glibc

/// A libvirt domain (VM). Owns one reference to its `virDomainPtr`; libvirt
/// domain handles are safe to use from any thread.
public final class Domain: @unchecked Sendable {
    let ptr: OpaquePointer
    /// Kept so the connection outlives the handles made from it.
    public let connection: Connection
    /// Fixed at lookup time: a domain's name and UUID do not change while
    /// the handle lives (renaming makes a new handle).
    public let name: String
    public let uuid: String

    /// Takes ownership of a reference the caller already holds.
    init(owning ptr: OpaquePointer, connection: Connection) {
        self.ptr = ptr
        self.connection = connection
        self.name = virDomainGetName(ptr).map { String(cString: $0) } ?? ""
        var buf = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        self.uuid = virDomainGetUUIDString(ptr, &buf) == 0
            ? String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    /// Wraps a pointer libvirt lends to a callback: takes a reference of its own.
    convenience init(borrowing ptr: OpaquePointer, connection: Connection) {
        virDomainRef(ptr)
        self.init(owning: ptr, connection: connection)
    }

    deinit { virDomainFree(ptr) }

    func check(_ rc: Int32, _ what: String) throws(LibvirtError) {
        if rc < 0 { throw .capture("\(what) domain '\(name)'") }
    }

    /// The running domain's id, nil when not running.
    public var id: UInt32? {
        let v = virDomainGetID(ptr)
        return v == UInt32.max ? nil : v
    }

    // MARK: lifecycle

    public func create() throws(LibvirtError) { try check(virDomainCreate(ptr), "start") }

    /// Starts the domain with its vCPUs paused (nothing in the guest runs:
    /// how a shut-off VM's disks are backed up through QEMU).
    public func createPaused() throws(LibvirtError) {
        try check(virDomainCreateWithFlags(ptr, VIR_DOMAIN_START_PAUSED.rawValue), "start (paused)")
    }

    /// Asks the guest to shut down (ACPI power button by default).
    public func shutdown() throws(LibvirtError) { try check(virDomainShutdown(ptr), "shut down") }

    public enum ShutdownMode: Sendable { case acpi, guestAgent }

    /// Asks the guest to shut down by the ACPI power button, or through the
    /// qemu-guest-agent channel (vigil-agent --qga or qemu-ga).
    public func shutdown(mode: ShutdownMode) throws(LibvirtError) {
        let flags = mode == .acpi ? VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN.rawValue : VIR_DOMAIN_SHUTDOWN_GUEST_AGENT.rawValue
        try check(virDomainShutdownFlags(ptr, UInt32(flags)), "shut down")
    }

    /// Powers the domain off at once. `graceful` asks QEMU to flush first.
    public func destroy(graceful: Bool = false) throws(LibvirtError) {
        let flags = graceful ? VIR_DOMAIN_DESTROY_GRACEFUL.rawValue : 0
        try check(virDomainDestroyFlags(ptr, flags), "destroy")
    }

    public func suspend() throws(LibvirtError) { try check(virDomainSuspend(ptr), "suspend") }
    public func resume() throws(LibvirtError) { try check(virDomainResume(ptr), "resume") }
    public func reboot() throws(LibvirtError) { try check(virDomainReboot(ptr, 0), "reboot") }

    /// Resets the virtual hardware at once, like pressing the reset button.
    public func reset() throws(LibvirtError) { try check(virDomainReset(ptr, 0), "reset") }

    /// Saves memory to a libvirt-managed file and stops; the next `create()`
    /// restores it.
    public func managedSave() throws(LibvirtError) { try check(virDomainManagedSave(ptr, 0), "managed-save") }

    public var hasManagedSaveImage: Bool {
        get throws(LibvirtError) {
            let rc = virDomainHasManagedSaveImage(ptr, 0)
            if rc < 0 { throw .capture("query managed save image of domain '\(name)'") }
            return rc == 1
        }
    }

    public func removeManagedSave() throws(LibvirtError) {
        try check(virDomainManagedSaveRemove(ptr, 0), "remove managed save image of")
    }

    /// Flags for `undefine`.
    public struct UndefineFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let managedSave = UndefineFlags(rawValue: VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue)
        public static let snapshotsMetadata = UndefineFlags(rawValue: VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.rawValue)
        public static let nvram = UndefineFlags(rawValue: VIR_DOMAIN_UNDEFINE_NVRAM.rawValue)
        public static let keepNVRAM = UndefineFlags(rawValue: VIR_DOMAIN_UNDEFINE_KEEP_NVRAM.rawValue)
        public static let checkpointsMetadata = UndefineFlags(rawValue: VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA.rawValue)
    }

    /// Removes the persistent definition (a running domain becomes transient).
    /// `.checkpointsMetadata` is asked only of a domain that has checkpoints:
    /// drivers without checkpoints (the test driver) refuse the flag itself.
    public func undefine(_ flags: UndefineFlags = []) throws(LibvirtError) {
        var flags = flags
        if flags.contains(.checkpointsMetadata) && checkpointCount == 0 { flags.remove(.checkpointsMetadata) }
        try check(virDomainUndefineFlags(ptr, flags.rawValue), "undefine")
    }

    /// How many checkpoints libvirt keeps for the domain (0 where the driver has none).
    public var checkpointCount: Int {
        let n = virDomainListAllCheckpoints(ptr, nil, 0)
        if n < 0 { virResetLastError() }
        return max(0, Int(n))
    }

    public var autostart: Bool {
        get throws(LibvirtError) {
            var v: Int32 = 0
            try check(virDomainGetAutostart(ptr, &v), "get autostart of")
            return v != 0
        }
    }

    public func setAutostart(_ on: Bool) throws(LibvirtError) {
        try check(virDomainSetAutostart(ptr, on ? 1 : 0), "set autostart of")
    }

    // MARK: description

    public struct XMLFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let secure = XMLFlags(rawValue: VIR_DOMAIN_XML_SECURE.rawValue)
        public static let inactive = XMLFlags(rawValue: VIR_DOMAIN_XML_INACTIVE.rawValue)
        public static let migratable = XMLFlags(rawValue: VIR_DOMAIN_XML_MIGRATABLE.rawValue)
    }

    public func xml(_ flags: XMLFlags = []) throws(LibvirtError) -> String {
        guard let c = virDomainGetXMLDesc(ptr, flags.rawValue) else { throw .capture("get XML of domain '\(name)'") }
        defer { free(c) }
        return String(cString: c)
    }

    public func state() throws(LibvirtError) -> DomainStateWithReason {
        var state: Int32 = 0, reason: Int32 = 0
        try check(virDomainGetState(ptr, &state, &reason, 0), "get state of")
        return DomainStateWithReason(state: DomainState(rawValue: state) ?? .noState, reason: reason)
    }

    public func info() throws(LibvirtError) -> DomainInfo {
        var i = virDomainInfo()
        try check(virDomainGetInfo(ptr, &i), "get info of")
        return DomainInfo(state: DomainState(rawValue: Int32(i.state)) ?? .noState,
                          maxMemoryKiB: UInt64(i.maxMem), memoryKiB: UInt64(i.memory),
                          vcpus: Int(i.nrVirtCpu), cpuTimeNs: UInt64(i.cpuTime))
    }

    public var isActive: Bool {
        get throws(LibvirtError) {
            let rc = virDomainIsActive(ptr)
            if rc < 0 { throw .capture("query whether domain '\(name)' is active") }
            return rc == 1
        }
    }

    public var isPersistent: Bool {
        get throws(LibvirtError) {
            let rc = virDomainIsPersistent(ptr)
            if rc < 0 { throw .capture("query whether domain '\(name)' is persistent") }
            return rc == 1
        }
    }

    // MARK: metadata

    /// Which definition a change applies to.
    public struct Affect: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let current: Affect = []
        public static let live = Affect(rawValue: VIR_DOMAIN_AFFECT_LIVE.rawValue)
        public static let config = Affect(rawValue: VIR_DOMAIN_AFFECT_CONFIG.rawValue)
    }

    /// The custom metadata element stored under `namespaceURI`, or nil when
    /// there is none.
    public func metadata(namespaceURI: String, affect: Affect = .current) throws(LibvirtError) -> String? {
        guard let c = virDomainGetMetadata(ptr, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), namespaceURI, affect.rawValue) else {
            let err = LibvirtError.capture("get metadata of domain '\(name)'")
            if err.code == .noDomainMetadata { return nil }
            throw err
        }
        defer { free(c) }
        return String(cString: c)
    }

    /// Stores `xml` (one element) under `namespaceURI` with prefix `key`;
    /// nil removes it.
    public func setMetadata(_ xml: String?, key: String, namespaceURI: String, affect: Affect = .current) throws(LibvirtError) {
        try check(virDomainSetMetadata(ptr, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), xml,
                                       xml == nil ? nil : key, namespaceURI, affect.rawValue), "set metadata of")
    }

    /// Title and description metadata (shown by virsh).
    public func setDescription(_ text: String?, affect: Affect = .current) throws(LibvirtError) {
        try check(virDomainSetMetadata(ptr, Int32(VIR_DOMAIN_METADATA_DESCRIPTION.rawValue), text, nil, nil, affect.rawValue),
                  "set description of")
    }

    // MARK: migration

    /// Live peer-to-peer migration to `destinationURI`; the domain stays
    /// defined on the destination and is undefined here. `sharedStorageKnown`
    /// tells libvirt the disks are on storage both hosts see, when it cannot
    /// tell by itself (a plain shared directory rather than NFS or a cluster fs).
    public func migrate(toURI destinationURI: String, live: Bool = true, persist: Bool = true,
                        undefineSource: Bool = true, sharedStorageKnown: Bool = false) throws(LibvirtError) {
        var flags = VIR_MIGRATE_PEER2PEER.rawValue
        if sharedStorageKnown { flags |= VIR_MIGRATE_UNSAFE.rawValue }
        if live { flags |= VIR_MIGRATE_LIVE.rawValue }
        if persist { flags |= VIR_MIGRATE_PERSIST_DEST.rawValue }
        if undefineSource { flags |= VIR_MIGRATE_UNDEFINE_SOURCE.rawValue }
        try check(virDomainMigrateToURI(ptr, destinationURI, UInt(flags), nil, 0), "migrate to \(destinationURI)")
    }
}
