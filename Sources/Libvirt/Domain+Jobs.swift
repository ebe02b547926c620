import CLibvirt
import Glibc

/// Background jobs on a running domain: push-mode backups (point-in-time
/// copies of its disks while it runs) and disk-only external snapshots.
extension Domain {
    public enum JobKind: Int32, Sendable {
        case none = 0, bounded, unbounded, completed, failed, cancelled
    }

    /// Where the domain's current (or, with `completed`, last) job stands.
    public struct JobProgress: Sendable, Equatable {
        public var kind: JobKind
        public var dataTotal: UInt64
        public var dataProcessed: UInt64
        public var elapsedMs: UInt64

        public var fraction: Double { dataTotal == 0 ? 0 : Double(dataProcessed) / Double(dataTotal) }
    }

    /// The running job's progress (`kind == .none` when there is none).
    public func jobProgress() throws(LibvirtError) -> JobProgress {
        var info = virDomainJobInfo()
        if virDomainGetJobInfo(ptr, &info) < 0 { throw .capture("get job info of domain '\(name)'") }
        // libvirt goes on answering "cancelled" (or "completed", "failed") for a job that
        // ended, to the connection that watched it: no job runs then.
        let kind = JobKind(rawValue: info.type) ?? .none
        return JobProgress(kind: kind == .bounded || kind == .unbounded ? kind : .none, dataTotal: info.dataTotal,
                           dataProcessed: info.dataProcessed, elapsedMs: info.timeElapsed)
    }

    /// How the domain's most recent job ended (`.completed`, `.failed`,
    /// `.cancelled`), or `.none` when libvirt kept no record.
    public func lastJobOutcome() throws(LibvirtError) -> JobKind {
        var type: Int32 = 0
        var params: UnsafeMutablePointer<virTypedParameter>?
        var count: Int32 = 0
        if virDomainGetJobStats(ptr, &type, &params, &count, UInt32(VIR_DOMAIN_JOB_STATS_COMPLETED.rawValue)) < 0 {
            throw .capture("get the last job of domain '\(name)'")
        }
        virTypedParamsFree(params, count)
        return JobKind(rawValue: type) ?? .none
    }

    public func abortJob() throws(LibvirtError) {
        if virDomainAbortJob(ptr) < 0 { throw .capture("abort the job of domain '\(name)'") }
    }

    /// Starts a push-mode backup described by `backupXML` (`<domainbackup>`):
    /// libvirt creates the target files and QEMU copies a point-in-time view
    /// of the disks into them while the guest keeps running.
    public func beginBackup(xml backupXML: String) throws(LibvirtError) {
        if virDomainBackupBegin(ptr, backupXML, nil, 0) < 0 { throw .capture("begin a backup of domain '\(name)'") }
    }

    /// A disk-only external snapshot without libvirt snapshot metadata: each
    /// listed disk's current image becomes a read-only backing file and the
    /// domain continues on a new qcow2 overlay (running or shut off).
    public func createExternalDiskSnapshot(xml snapshotXML: String) throws(LibvirtError) {
        let flags = VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY.rawValue | VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA.rawValue
            | VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC.rawValue
        guard let snap = virDomainSnapshotCreateXML(ptr, snapshotXML, UInt32(flags)) else {
            throw .capture("snapshot the disks of domain '\(name)'")
        }
        virDomainSnapshotFree(snap)
    }
}
