import CLibvirt
import Glibc

/// A libvirt domain checkpoint: a named point in time, kept by QEMU as a
/// persistent dirty bitmap in each qcow2 disk, so a later backup can copy
/// only what changed since. Owns one reference to its pointer.
public final class Checkpoint: @unchecked Sendable {
    let ptr: OpaquePointer
    public let domain: Domain
    public let name: String

    init(owning ptr: OpaquePointer, domain: Domain) {
        self.ptr = ptr
        self.domain = domain
        name = virDomainCheckpointGetName(ptr).map { String(cString: $0) } ?? ""
    }

    deinit { virDomainCheckpointFree(ptr) }

    /// `<domaincheckpoint>`; with `size`, libvirt also asks QEMU how much
    /// changed since (fails when a disk's bitmap is gone or inconsistent).
    public func xml(size: Bool = false) throws(LibvirtError) -> String {
        let flags = size ? UInt32(VIR_DOMAIN_CHECKPOINT_XML_SIZE.rawValue) : 0
        guard let c = virDomainCheckpointGetXMLDesc(ptr, flags) else { throw .capture("read checkpoint '\(name)' of") }
        defer { free(c) }
        return String(cString: c)
    }

    /// Deletes the checkpoint and its bitmaps (`metadataOnly`: only
    /// libvirt's record, for bitmaps that are already gone).
    public func delete(metadataOnly: Bool = false) throws(LibvirtError) {
        let flags = metadataOnly ? UInt32(VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY.rawValue) : 0
        if virDomainCheckpointDelete(ptr, flags) < 0 {
            throw .capture("delete checkpoint '\(name)' of domain '\(domain.name)':")
        }
    }
}

extension Domain {
    /// Every checkpoint libvirt knows for the domain.
    public func checkpoints() throws(LibvirtError) -> [Checkpoint] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = virDomainListAllCheckpoints(ptr, &list, 0)
        if n < 0 { throw .capture("list checkpoints of domain '\(name)'") }
        defer { free(list) }
        return (0..<Int(n)).compactMap { i in list?[i].map { Checkpoint(owning: $0, domain: self) } }
    }

    public func checkpoint(named checkpointName: String) throws(LibvirtError) -> Checkpoint {
        guard let p = virDomainCheckpointLookupByName(ptr, checkpointName, 0) else {
            throw .capture("find checkpoint '\(checkpointName)' of domain '\(name)':")
        }
        return Checkpoint(owning: p, domain: self)
    }

    /// Starts a push-mode backup (`<domainbackup>`) that also creates the
    /// checkpoint `checkpointXML` at the same instant, so the next
    /// incremental starts exactly where this one ends. `reuseExternal`:
    /// the target files exist already (made with their backing files).
    public func beginBackup(xml backupXML: String, checkpointXML: String?, reuseExternal: Bool) throws(LibvirtError) {
        let flags = reuseExternal ? UInt32(VIR_DOMAIN_BACKUP_BEGIN_REUSE_EXTERNAL.rawValue) : 0
        if virDomainBackupBegin(ptr, backupXML, checkpointXML, flags) < 0 {
            throw .capture("begin a backup of domain '\(name)':")
        }
    }

    /// Freezes the guest's filesystems through its qemu-guest-agent; returns how many.
    @discardableResult
    public func freezeFilesystems() throws(LibvirtError) -> Int {
        let n = virDomainFSFreeze(ptr, nil, 0, 0)
        if n < 0 { throw .capture("freeze the filesystems of domain '\(name)':") }
        return Int(n)
    }

    public func thawFilesystems() throws(LibvirtError) {
        if virDomainFSThaw(ptr, nil, 0, 0) < 0 { throw .capture("thaw the filesystems of domain '\(name)':") }
    }
}
