import Core

/// Recomputes the SHA-256 of every 4 MiB of every stored file of the given
/// backups and compares with their manifests: a damaged backup is named
/// with its disk and the byte ranges that differ.
struct BackupVerifier: Sendable {
    let executor: BlockingExecutor

    func verify(_ manifests: [BackupManifest], in store: any BackupStore) async -> BackupVerifyResult {
        var damage: [BackupDamage] = [], read: Int64 = 0
        for m in manifests {
            let dir = BackupLayout.directory(store.destination.root, m.info.vmUUID, m.info.id)
            for file in m.files {
                let disk = m.info.disks.first { $0.file == file.name }?.target ?? file.name
                let found: (hashes: [String], bytes: Int64)
                do {
                    found = try await store.chunkHashes(dir + "/" + file.name, chunk: m.chunkBytes)
                } catch {
                    damage.append(.init(backup: m.info.id, disk: disk, offset: 0, length: file.bytes, problem: "cannot be read: \(error)"))
                    continue
                }
                read += found.bytes
                damage += Self.compare(expected: file, found: found, chunk: Int64(m.chunkBytes), backup: m.info.id, disk: disk)
            }
        }
        return BackupVerifyResult(checked: manifests.map(\.info.id), bytesRead: read, damage: damage)
    }

    /// Differing chunks, adjacent ones merged into one range.
    static func compare(expected: BackupManifest.StoredFile, found: (hashes: [String], bytes: Int64), chunk: Int64,
                        backup: String, disk: String) -> [BackupDamage] {
        var out: [BackupDamage] = []
        if found.bytes != expected.bytes {
            out.append(.init(backup: backup, disk: disk, offset: min(found.bytes, expected.bytes),
                             length: abs(found.bytes - expected.bytes),
                             problem: "stored file is \(found.bytes) bytes, the manifest says \(expected.bytes)"))
        }
        var start: Int?
        let n = min(found.hashes.count, expected.sha256.count)
        for i in 0...n {
            let bad = i < n && found.hashes[i] != expected.sha256[i]
            if bad && start == nil { start = i }
            if !bad, let s = start {
                let offset = Int64(s) * chunk
                let end = min(Int64(i) * chunk, max(expected.bytes, offset + 1))
                out.append(.init(backup: backup, disk: disk, offset: offset, length: end - offset, problem: "checksum mismatch"))
                start = nil
            }
        }
        return out
    }
}
