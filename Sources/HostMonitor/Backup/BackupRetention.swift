import Core

/// Removes backups from a repository: what a retention count lets go
/// (never a backup a kept one builds on: `BackupChain.expired`), or one
/// backup deleted by hand. Each goes manifest first, so an interrupted
/// removal leaves a directory that is simply not listed (and is removed by
/// the next retention pass), never a listed backup with missing images.
struct BackupRetention: Sendable {
    let events: EventLog

    func keep(_ count: Int, of vmUUID: String, in store: any BackupStore,
              listing: () async throws -> [BackupInfo]) async throws {
        let expired = BackupChain(try await listing()).expired(keep: count)
        try await remove(expired, from: store, why: "beyond the retention of \(count)")
        // Leftovers of removals cut short: directories without a manifest.
        let dir = BackupLayout.vmDirectory(store.destination.root, vmUUID)
        let listed = Set(try await listing().map(\.id))
        for entry in try await store.list(dir) where BackupLayout.isBackupID(entry) && !listed.contains(entry) {
            let files = try await store.list(dir + "/" + entry)
            if !files.contains(BackupManifest.fileName) { try await store.remove(dir + "/" + entry) }
        }
    }

    /// `backups` children first (as `expired` orders them).
    func remove(_ backups: [BackupInfo], from store: any BackupStore, why: String) async throws {
        for b in backups {
            let dir = BackupLayout.directory(store.destination.root, b.vmUUID, b.id)
            try await store.remove(dir + "/" + BackupManifest.fileName)
            try await store.remove(dir)
            events.record(vmUUID: b.vmUUID, vmName: b.vm, kind: "backup",
                          message: "\(b.level.rawValue) backup \(b.id) removed from \(store.destination) (\(why))")
        }
    }
}
