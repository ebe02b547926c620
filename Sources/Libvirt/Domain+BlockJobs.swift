import CLibvirt
import Glibc

/// Block jobs on one disk of a running domain: a pull (stream) merges the
/// images between the active one and a base into the active image, so the
/// ones in between are no longer needed by the running chain.
extension Domain {
    public struct BlockJob: Sendable, Equatable {
        public var type: Int32
        public var current: UInt64
        public var end: UInt64

        public var fraction: Double { end == 0 ? 0 : Double(current) / Double(end) }
    }

    /// Starts pulling into `disk`'s active image everything above `base`
    /// (a file of its chain; nil pulls the whole chain, leaving it standalone).
    /// libvirt drops the merged images from the chain when the job ends.
    public func blockPull(disk: String, base: String?, bandwidthMiBs: UInt = 0) throws(LibvirtError) {
        if virDomainBlockRebase(ptr, disk, base, UInt(bandwidthMiBs), 0) < 0 {
            throw .capture("pull the backing images of disk '\(disk)' of domain '\(name)':")
        }
    }

    /// The block job running on `disk`, nil when there is none.
    public func blockJob(disk: String) throws(LibvirtError) -> BlockJob? {
        var info = virDomainBlockJobInfo()
        let rc = virDomainGetBlockJobInfo(ptr, disk, &info, 0)
        if rc < 0 { throw .capture("read the block job of disk '\(disk)' of domain '\(name)'") }
        return rc == 0 ? nil : BlockJob(type: info.type, current: info.cur, end: info.end)
    }

    public func abortBlockJob(disk: String) throws(LibvirtError) {
        if virDomainBlockJobAbort(ptr, disk, 0) < 0 {
            throw .capture("abort the block job of disk '\(disk)' of domain '\(name)'")
        }
    }
}

/// Block copy: a running disk mirrored onto a new image, then switched to
/// it (pivot) while the guest keeps running — how a VM's storage moves.
extension Domain {
    /// Starts copying `disk` (its whole chain, flattened) into the image
    /// `destinationXML` describes (`<disk type='file'>…<source file=…/>`);
    /// libvirt creates the file. The copy then mirrors every new write
    /// until `pivot(disk:)` or `abortBlockJob(disk:)`.
    public func blockCopy(disk: String, destinationXML: String) throws(LibvirtError) {
        // A transient job: allowed on persistent domains (the job is not saved with them).
        let flags = UInt32(VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB.rawValue)
        if virDomainBlockCopy(ptr, disk, destinationXML, nil, 0, flags) < 0 {
            throw .capture("copy disk '\(disk)' of domain '\(name)':")
        }
    }

    /// Switches `disk` to its copy once the copy is in step (mirroring).
    public func pivot(disk: String) throws(LibvirtError) {
        if virDomainBlockJobAbort(ptr, disk, UInt32(VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT.rawValue)) < 0 {
            throw .capture("switch disk '\(disk)' of domain '\(name)' to its copy:")
        }
    }
}
