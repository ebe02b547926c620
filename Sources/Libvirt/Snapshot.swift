import CLibvirt
import Glibc

/// A libvirt domain snapshot (its metadata: name, parent, the domain's
/// definition then, and where its disks and memory went). Owns one
/// reference to its `virDomainSnapshotPtr`.
public final class Snapshot: @unchecked Sendable {
    let ptr: OpaquePointer
    /// Kept so the domain (and its connection) outlive the handle.
    public let domain: Domain
    public let name: String

    /// Takes ownership of a reference the caller already holds.
    init(owning ptr: OpaquePointer, domain: Domain) {
        self.ptr = ptr
        self.domain = domain
        name = virDomainSnapshotGetName(ptr).map { String(cString: $0) } ?? ""
    }

    deinit { virDomainSnapshotFree(ptr) }

    /// `<domainsnapshot>` as libvirt keeps it (with `secure`: also secrets).
    public func xml(secure: Bool = false) throws(LibvirtError) -> String {
        let flags = secure ? UInt32(VIR_DOMAIN_XML_SECURE.rawValue) : 0
        guard let c = virDomainSnapshotGetXMLDesc(ptr, flags) else { throw .capture("read snapshot '\(name)' of") }
        defer { free(c) }
        return String(cString: c)
    }

    public var isCurrent: Bool {
        get throws(LibvirtError) {
            let v = virDomainSnapshotIsCurrent(ptr, 0)
            if v < 0 { throw .capture("check snapshot '\(name)' of domain '\(domain.name)'") }
            return v == 1
        }
    }

    public struct DeleteFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Only libvirt's record; the disks and memory files stay (children are re-parented).
        public static let metadataOnly = DeleteFlags(rawValue: VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY.rawValue)
        public static let children = DeleteFlags(rawValue: VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN.rawValue)
    }

    public func delete(_ flags: DeleteFlags = []) throws(LibvirtError) {
        if virDomainSnapshotDelete(ptr, flags.rawValue) < 0 {
            throw .capture("delete snapshot '\(name)' of domain '\(domain.name)':")
        }
    }

    public struct RevertFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let running = RevertFlags(rawValue: VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING.rawValue)
        public static let paused = RevertFlags(rawValue: VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED.rawValue)
        public static let force = RevertFlags(rawValue: VIR_DOMAIN_SNAPSHOT_REVERT_FORCE.rawValue)
    }

    /// libvirt's own revert (internal snapshots; external ones need libvirt ≥ 9.9).
    public func revert(_ flags: RevertFlags = []) throws(LibvirtError) {
        if virDomainRevertToSnapshot(ptr, flags.rawValue) < 0 {
            throw .capture("revert to snapshot '\(name)' of domain '\(domain.name)':")
        }
    }
}

extension Domain {
    public struct SnapshotCreateFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let diskOnly = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY.rawValue)
        public static let atomic = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC.rawValue)
        /// Freezes the guest's filesystems through its qemu-guest-agent around the disk snapshot.
        public static let quiesce = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE.rawValue)
        /// The memory is saved while the vCPUs keep running (paused only at the end).
        public static let live = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_LIVE.rawValue)
        /// Recreates libvirt's record from a saved `<domainsnapshot>` (nothing on disk changes).
        public static let redefine = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE.rawValue)
        /// With `redefine`: the snapshot becomes the domain's current one.
        public static let current = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT.rawValue)
    }

    /// Creates (or, with `.redefine`, re-records) the snapshot `snapshotXML` describes.
    @discardableResult
    public func createSnapshot(xml snapshotXML: String, _ flags: SnapshotCreateFlags) throws(LibvirtError) -> Snapshot {
        guard let p = virDomainSnapshotCreateXML(ptr, snapshotXML, flags.rawValue) else {
            throw .capture("snapshot domain '\(name)':")
        }
        return Snapshot(owning: p, domain: self)
    }

    /// Every snapshot libvirt knows for the domain.
    public func snapshots() throws(LibvirtError) -> [Snapshot] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = virDomainListAllSnapshots(ptr, &list, 0)
        if n < 0 { throw .capture("list snapshots of domain '\(name)'") }
        defer { free(list) }
        return (0..<Int(n)).compactMap { i in list?[i].map { Snapshot(owning: $0, domain: self) } }
    }

    public func snapshot(named snapshotName: String) throws(LibvirtError) -> Snapshot {
        guard let p = virDomainSnapshotLookupByName(ptr, snapshotName, 0) else {
            throw .capture("find snapshot '\(snapshotName)' of domain '\(name)':")
        }
        return Snapshot(owning: p, domain: self)
    }
}
