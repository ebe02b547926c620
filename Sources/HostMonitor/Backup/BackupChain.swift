import Core

/// The pure decisions about a VM's backups in one repository: which backup
/// a new incremental or differential builds on, and which backups
/// retention may remove without breaking a chain a kept backup needs.
struct BackupChain: Sendable {
    /// Oldest first.
    let backups: [BackupInfo]

    init(_ backups: [BackupInfo]) { self.backups = backups.sorted { ($0.created, $0.id) < ($1.created, $1.id) } }

    private var byID: [String: BackupInfo] { Dictionary(backups.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }) }

    /// Every backup `id` needs to be restored, itself first, or nil when one is missing.
    func lineage(_ id: String) -> [BackupInfo]? {
        let all = byID
        var out: [BackupInfo] = [], next: String? = id, seen = Set<String>()
        while let n = next {
            guard let b = all[n], seen.insert(n).inserted else { return nil }
            out.append(b)
            next = b.parent
        }
        return out.last?.level == .full ? out : nil
    }

    enum Decision: Equatable, Sendable {
        /// Build on `parent` (its checkpoint names where the changes start).
        case build(level: BackupLevel, parent: BackupInfo)
        /// Take a full backup; `reason` says why when another level was asked for.
        case full(reason: String?)
    }

    /// What a backup asked for at `level` becomes. `hasCheckpoint` says
    /// whether libvirt still holds a backup's checkpoint on the VM.
    func decide(_ level: BackupLevel, hasCheckpoint: (BackupInfo) -> Bool) -> Decision {
        guard level != .full else { return .full(reason: nil) }
        let latest = backups.last
        guard let latest else { return .full(reason: "there is no earlier backup of this VM in this destination") }
        let parent: BackupInfo
        switch level {
        case .differential:
            guard let base = backups.last(where: { $0.level == .full }) else {
                return .full(reason: "there is no full backup of this VM in this destination")
            }
            parent = base
        default:
            parent = latest
        }
        guard lineage(parent.id) != nil else {
            return .full(reason: "the chain of backup \(parent.id) is incomplete in this destination")
        }
        guard hasCheckpoint(parent) else {
            return .full(reason: "the VM no longer has the checkpoint of backup \(parent.id) "
                         + "(it was restored, migrated, recreated or backed up elsewhere since)")
        }
        return .build(level: level == .auto ? .incremental : level, parent: parent)
    }

    /// Backups retention removes when the newest `keep` are kept: all but
    /// those and everything they build on. Newest first never matters:
    /// a chain is removed whole or not at all from its tip down.
    func expired(keep: Int) -> [BackupInfo] {
        let kept = backups.suffix(max(keep, 0))
        var needed = Set<String>()
        for b in kept { for l in lineage(b.id) ?? [b] { needed.insert(l.id) } }
        // Children before parents, so an interrupted removal never leaves a child without its parent.
        return backups.filter { !needed.contains($0.id) }.reversed()
    }

    /// The checkpoints worth keeping on the VM after a backup: the newest
    /// backup's (the next incremental) and the newest full's (the next
    /// differential). Others only cost QEMU a bitmap update per write.
    var usefulCheckpoints: Set<String> {
        var ids = Set<String>()
        if let l = backups.last { ids.insert(l.id) }
        if let f = backups.last(where: { $0.level == .full }) { ids.insert(f.id) }
        return ids
    }
}
