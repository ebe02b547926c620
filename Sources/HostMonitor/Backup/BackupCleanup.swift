import Foundation
import Libvirt

/// Undoes what an unfinished backup made (the journal's `abandonBackup`):
/// its job is aborted, its partial directory and scratch files removed, its
/// checkpoint deleted unless the backup got published (then the next
/// incremental needs it), and a VM started paused for it stopped again.
/// Idempotent, and safe when vigild died at any point of the backup.
struct BackupCleanup: Sendable {
    let executor: BlockingExecutor

    func perform(_ l: BackupTaker.Leftovers) async throws {
        let store = try BackupStores.open(l.destination, ssh: l.ssh.settings)
        // Unreachable (a dropped link): what is on this host is cleaned now; the
        // checkpoint stays until the destination says the backup never got published.
        let published: Bool?
        do { published = try await store.list(l.final).contains(BackupManifest.fileName) } catch { published = nil }
        let checkpoint = published == false ? l.checkpoint : nil
        try await executor.run {
            let conn = try Connection(uri: l.uri)
            defer { conn.close() }
            guard let dom = try? conn.domain(uuid: l.domainUUID) else { return }
            if try dom.isActive, try dom.jobProgress().kind != .none {
                try? dom.abortJob()
                for _ in 0..<200 where (try? dom.jobProgress().kind) != Domain.JobKind.none { usleep(50_000) }
            }
            // Only a VM still paused is ours to stop: once someone resumed it, it runs for them.
            if l.startedPaused, try dom.isActive, try dom.state().state == .paused { try dom.destroy(graceful: true) }
            if let checkpoint, let cp = try? dom.checkpoint(named: checkpoint) {
                // Without its bitmap (the VM stopped uncleanly) only the record is left to delete.
                do { try cp.delete() } catch { try cp.delete(metadataOnly: true) }
            }
        }
        if let staging = l.staging, FileManager.default.fileExists(atPath: staging) {
            try FileManager.default.removeItem(atPath: staging)
        }
        guard published != nil else {
            throw BackupStoreError(description: "\(l.destination) cannot be reached, so \(l.partial) stays there for now "
                                   + "(the next backup of the VM removes it)")
        }
        try await store.remove(l.partial)
    }
}

/// A repository by its destination text.
enum BackupStores {
    static func open(_ destination: String, ssh: SSHSettings) throws -> any BackupStore {
        switch try BackupDestination(parsing: destination) {
        case .local(let path): LocalBackupStore(root: path)
        case .ssh(let user, let host, let port, let path): SSHBackupStore(user: user, host: host, port: port, root: path, settings: ssh)
        }
    }
}
