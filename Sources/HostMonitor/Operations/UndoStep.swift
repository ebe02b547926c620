import Foundation

/// One thing a long operation made (or is about to make) that must go away
/// again if the operation does not finish. Written to the journal *before*
/// the thing is made, so a vigild killed at any point knows what to undo.
enum UndoStep: Codable, Sendable, Equatable {
    /// A file the operation creates (a new disk, a partial export).
    case removeFile(path: String)
    /// A file made for an existing domain (a source VM's new overlay):
    /// removed unless that domain's definition uses it by now.
    case removeFileUnlessUsed(path: String, domainUUID: String, uri: String)
    /// A volume the operation creates in a libvirt storage pool.
    case deleteVolume(pool: String, volume: String, uri: String)
    /// A domain the operation defines, by the UUID it was given up front.
    case undefineDomain(uuid: String, uri: String)
    /// A helper process (qemu-img, tar) that may outlive a killed vigild;
    /// killed only if its command line still names `marker`.
    case killProcess(pid: Int32, marker: String)
    /// A libvirt block job (backup) on a domain.
    case abortJob(domainUUID: String, uri: String)
    /// A file moved by rename: moved back.
    case moveBack(from: String, to: String)
    /// A domain the operation undefines (a VM turned into a template): defined again.
    case redefineDomain(xml: String, uri: String)
    /// A migration between two hosts: afterwards the VM runs on at most one
    /// of them and is defined on exactly one (where it runs, else where it was).
    case settleMigration(domainUUID: String, source: String, destination: String)

    /// A snapshot's memory file: removed unless the domain has snapshot `snapshot` by now.
    case removeFileUnlessSnapshot(path: String, domainUUID: String, uri: String, snapshot: String)

    /// A block copy of a running VM's disk onto `path`: aborted (no pivot)
    /// while it runs, and `path` removed unless the VM runs on it by now.
    case abortBlockCopy(domainUUID: String, uri: String, disk: String, path: String)
    /// An image made on another host for a migration with storage: removed
    /// (through that host's libvirtd) unless the move committed, i.e. the
    /// source host no longer has the domain.
    case deleteRemoteVolume(uri: String, path: String, domainUUID: String, source: String)
    /// A backup being written: its partial directory, scratch files and
    /// unpublished checkpoint go; a VM started paused for it is stopped.
    case abandonBackup(BackupTaker.Leftovers)

    // Steps that cannot be undone are finished instead (roll forward):

    /// A snapshot delete: merging is idempotent, so it is finished (`SnapshotMerger`).
    case finishSnapshotDelete(SnapshotMerger.Job)

    /// A wipe: once `vmUUID` is undefined, zero-fill and delete what is left of `paths`.
    case completeWipe(vmUUID: String, uri: String, paths: [String])
    /// Work another part of vigild finishes at start (a recycle-bin purge).
    case finishedAtStart(what: String)
}

extension UndoStep {
    /// What the step is, for logs.
    var summary: String {
        switch self {
        case .removeFile(let path): "remove \(path)"
        case .removeFileUnlessUsed(let path, let uuid, _): "remove \(path) unless \(uuid) uses it"
        case .deleteVolume(let pool, let volume, _): "delete volume \(volume) of pool \(pool)"
        case .undefineDomain(let uuid, let uri): "undefine \(uuid) on \(uri)"
        case .killProcess(let pid, let marker): "stop process \(pid) (\(marker))"
        case .abortJob(let uuid, _): "abort the block job of \(uuid)"
        case .moveBack(let from, let to): "move \(from) back to \(to)"
        case .redefineDomain(_, let uri): "define the VM again on \(uri)"
        case .settleMigration(let uuid, let source, let destination): "leave \(uuid) on one of \(source) and \(destination)"
        case .removeFileUnlessSnapshot(let path, let uuid, _, let snapshot): "remove \(path) unless \(uuid) has snapshot \(snapshot)"
        case .abortBlockCopy(let uuid, _, let disk, let path): "stop copying disk \(disk) of \(uuid) to \(path)"
        case .deleteRemoteVolume(let uri, let path, _, _): "remove \(path) on \(uri) unless the migration committed"
        case .abandonBackup(let l): "clean up the unfinished backup \(l.partial)"
        case .finishSnapshotDelete(let job): "finish deleting snapshot \(job.snapshot) of \(job.domainUUID)"
        case .completeWipe(_, _, let paths): "zero-fill and delete \(paths.joined(separator: ", "))"
        case .finishedAtStart(let what): what
        }
    }

    /// Steps that finish their operation rather than undo it.
    var completesOperation: Bool {
        switch self {
        case .completeWipe, .finishedAtStart, .finishSnapshotDelete: true
        default: false
        }
    }

    /// Whether process `pid` still runs with `marker` in its command line
    /// (pids are reused: never signal a stranger).
    static func processMatches(pid: Int32, marker: String) -> Bool {
        guard pid > 1, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let cmdline = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        return cmdline.contains(marker)
    }
}
