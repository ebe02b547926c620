import Foundation
import Libvirt

/// Carries out `UndoStep`s. Each step is idempotent: undoing what was never
/// made (vigild died before making it) is a no-op.
struct UndoRunner: Sendable {
    let executor: BlockingExecutor

    func perform(_ step: UndoStep) async throws {
        switch step {
        case .removeFile(let path):
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        case .removeFileUnlessUsed(let path, let uuid, let uri):
            let used = try await onHost(uri) { conn in
                guard let dom = try? conn.domain(uuid: uuid) else { return false }
                return try Self.uses(dom, path)
            }
            if !used && FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        case .deleteVolume(let pool, let volume, let uri):
            try await onHost(uri) { conn in
                do {
                    try conn.storagePool(named: pool).volume(named: volume).delete()
                } catch let error as LibvirtError where error.code == .noStorageVolume || error.code == .noStoragePool {
                    return  // never made, or gone with its pool
                }
            }
        case .moveBack(let from, let to):
            if FileManager.default.fileExists(atPath: from) && !FileManager.default.fileExists(atPath: to) {
                try FileManager.default.moveItem(atPath: from, toPath: to)
            }
        case .killProcess(let pid, let marker):
            guard UndoStep.processMatches(pid: pid, marker: marker) else { return }
            kill(pid, SIGKILL)
            // It may be our child (reaped by swift-subprocess) or an orphan; wait until gone.
            for _ in 0..<100 where UndoStep.processMatches(pid: pid, marker: marker) {
                try await Task.sleep(for: .milliseconds(20))
            }
        case .undefineDomain(let uuid, let uri):
            try await onHost(uri) { conn in
                guard let dom = try? conn.domain(uuid: uuid) else { return }
                if try dom.isActive { try dom.destroy() }
                try dom.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata])
            }
        case .redefineDomain(let xml, let uri):
            try await onHost(uri) { conn in _ = try conn.define(xml: xml) }
        case .completeWipe(let uuid, let uri, let paths):
            let undefined = try await onHost(uri) { conn in (try? conn.domain(uuid: uuid)) == nil }
            // Still defined: the destroy never happened, the disks are the VM's.
            guard undefined else { return }
            try await executor.run { try RecycleBin.delete(paths, wipe: true, log: { _ in }) }
        case .finishedAtStart:
            return
        case .removeFileUnlessSnapshot(let path, let uuid, let uri, let snapshot):
            let kept = try await onHost(uri) { conn in
                guard let dom = try? conn.domain(uuid: uuid) else { return false }
                // A memory snapshot libvirt still writes (its vigild was killed) is decided when it ends.
                for _ in 0..<6000 where (try? dom.isActive) == true && (try? dom.jobProgress().kind) != Domain.JobKind.none {
                    usleep(100_000)
                }
                return (try? dom.snapshot(named: snapshot)) != nil
            }
            if !kept && FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        case .finishSnapshotDelete(let job):
            let gone = try await onHost(job.uri) { conn in (try? conn.domain(uuid: job.domainUUID)) == nil }
            guard !gone else { return }  // the VM itself was deleted since
            try await SnapshotMerger(executor: executor).finish(job)
        case .settleMigration(let uuid, let source, let destination):
            try await executor.run { try MigrationSettler.settle(uuid: uuid, source: source, destination: destination) }
        case .abortBlockCopy(let uuid, let uri, let disk, let path):
            let used = try await onHost(uri) { conn -> Bool in
                guard let dom = try? conn.domain(uuid: uuid) else { return false }
                if try dom.isActive, try dom.blockJob(disk: disk) != nil { try dom.abortBlockJob(disk: disk) }
                return try Self.uses(dom, path)
            }
            if !used && FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        case .deleteRemoteVolume(let uri, let path, let uuid, let source):
            let committed = try await onHost(source) { conn in (try? conn.domain(uuid: uuid)) == nil }
            guard !committed else { return }
            try await onHost(uri) { conn in
                // A destination that runs the VM on it by now keeps it (the settle step decides which copy stays).
                if let dom = try? conn.domain(uuid: uuid), try dom.isActive { return }
                try RemoteStorage.remove(conn, path: path)
            }
        case .abandonBackup(let leftovers):
            try await BackupCleanup(executor: executor).perform(leftovers)
        case .abortJob(let uuid, let uri):
            try await onHost(uri) { conn in
                guard let dom = try? conn.domain(uuid: uuid), try dom.isActive,
                      try dom.jobProgress().kind != .none else { return }
                try dom.abortJob()
                for _ in 0..<200 where (try? dom.jobProgress().kind) != Domain.JobKind.none {
                    usleep(50_000)
                }
            }
        }
    }

    /// Whether the domain's definition, or its live one while it runs, has `path` as a disk.
    private static func uses(_ dom: Domain, _ path: String) throws -> Bool {
        let xmls = [try dom.xml([.inactive])] + (try dom.isActive ? [try dom.xml([])] : [])
        return xmls.contains { DomainDefinition.diskFiles(in: $0).contains { $0.path == path } }
    }

    /// Runs `body` on its own connection to `uri` (the journal names the
    /// host; vigild's own connection may be to another one, or gone).
    private func onHost<T: Sendable>(_ uri: String, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await executor.run {
            let conn = try Connection(uri: uri)
            defer { conn.close() }
            return try body(conn)
        }
    }
}
