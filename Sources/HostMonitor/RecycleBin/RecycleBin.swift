import Core
import Foundation
import Libvirt

/// The file side of the recycle bin and of permanent deletion: checks
/// before a VM goes, disk files renamed into `.vigil-recycle/` next to where
/// they were (same filesystem, so never a copy) and back, and deletion.
/// Blocking; call on the executor.
enum RecycleBin {
    static let directoryName = ".vigil-recycle"

    /// A VM must be off before it goes; `force` powers it off (and drops a
    /// hibernated VM's saved memory), as the administrator asked.
    static func requireOff(_ dom: Domain, force: Bool, doing what: String) throws {
        let state = try dom.state().state
        if state != .shutoff {
            guard force else {
                throw APIError.conflict("cannot \(what) \(dom.name): it is \(state)",
                                        hint: "shut it down first ('vigil vm shutdown \(dom.name)'), or pass --force to power it off")
            }
            try dom.destroy()
        }
        if try dom.hasManagedSaveImage {
            guard force else {
                throw APIError.conflict("cannot \(what) \(dom.name): it is hibernated (its memory is saved)",
                                        hint: "wake it and shut it down, or pass --force to discard the saved memory")
            }
            try dom.removeManagedSave()
        }
    }

    /// What a permanent deletion of `dom` deletes and keeps, once it passed
    /// the checks (persistent, disks used by nobody else, off — or powered
    /// off with `force`). It does not undefine.
    struct Destruction: Sendable {
        var deleting: [String]
        var kept: [String]
        var undefineFlags: Domain.UndefineFlags
    }

    static func prepareDestruction(_ dom: Domain, deleteDisks: Bool, usage: DiskUsage, force: Bool) throws -> Destruction {
        try requirePersistent(dom)
        let xml = try dom.xml([.inactive])
        let disks = DomainDefinition.diskFiles(in: xml)
        var deleting = deleteDisks ? disks.filter(\.isOwned).map(\.path) : []
        if deleteDisks {
            // External snapshots keep the VM's earlier images and saved memory: the VM's own files too.
            for snap in try dom.snapshots() {
                guard let r = try? SnapshotRecord(xml: try snap.xml()) else { continue }
                for file in r.frozen.values.map(\.path) + (r.memoryFile.map { [$0] } ?? []) where !deleting.contains(file) {
                    if FileManager.default.fileExists(atPath: file) { deleting.append(file) }
                }
            }
        }
        try requireUnshared(deleting, usage: usage, doing: "delete the disks of \(dom.name)")
        try requireOff(dom, force: force, doing: "destroy")
        return Destruction(deleting: deleting, kept: disks.map(\.path).filter { !deleting.contains($0) },
                           undefineFlags: xml.contains("<nvram") ? [.managedSave, .snapshotsMetadata, .checkpointsMetadata, .nvram] : [.managedSave, .snapshotsMetadata, .checkpointsMetadata])
    }

    /// A transient VM has no definition to keep or undefine.
    static func requirePersistent(_ dom: Domain) throws {
        guard try dom.isPersistent else {
            throw APIError.conflict("\(dom.name) is a transient VM (never defined): it has no definition to delete",
                                    hint: "power it off with 'vigil vm poweroff \(dom.name) --force'; it disappears when it stops")
        }
    }

    /// Refuses when another VM (defined, or in the bin) uses one of `paths`.
    static func requireUnshared(_ paths: [String], usage: DiskUsage, doing what: String) throws {
        let used = paths.compactMap { p in usage.user(of: p).map { "\(p) is used by \($0)" } }
        guard used.isEmpty else {
            throw APIError.conflict("cannot \(what): " + used.joined(separator: "; "),
                                    hint: "keep the disks (leave out the disk option), or remove that VM's use of them first")
        }
    }

    /// Where each disk goes in the bin: `DIR/.vigil-recycle/TOKEN/FILE`.
    /// Creates the directories and checks each is on the disk's filesystem,
    /// so the later renames cannot fail for that reason.
    static func plan(_ paths: [String], token: String) throws -> [RecycledDisk] {
        var planned: [RecycledDisk] = []
        do {
            for path in paths { planned.append(try plan(path, token: token)) }
        } catch {
            removeEmptyDirectories(planned)
            throw error
        }
        return planned
    }

    private static func plan(_ path: String, token: String) throws -> RecycledDisk {
        let dir = (path as NSString).deletingLastPathComponent + "/\(directoryName)/\(token)"
        let disk = RecycledDisk(original: path, stored: dir + "/" + (path as NSString).lastPathComponent)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        guard let a = DiskUsage.fileID(path), let b = DiskUsage.fileID(dir), a.device == b.device else {
            removeEmptyDirectories([disk])
            throw APIError.conflict("cannot move \(path) into the recycle bin: it is on another filesystem than \(dir)",
                                    hint: "delete the VM without --with-disks (its disks stay where they are)")
        }
        return disk
    }

    /// Renames each file `from` → `to`; on a failure renames back what moved
    /// and throws, so the disks end all here or all there.
    static func move(_ pairs: [(from: String, to: String)]) throws {
        var done: [(from: String, to: String)] = []
        for pair in pairs {
            if rename(pair.from, pair.to) != 0 {
                let why = String(cString: strerror(errno))
                for d in done.reversed() { rename(d.to, d.from) }
                throw APIError(.internalServerError, "cannot move \(pair.from) to \(pair.to): \(why)",
                               hint: "check the directory's permissions and free space; nothing was moved")
            }
            done.append(pair)
        }
    }

    static func intoBin(_ disks: [RecycledDisk]) -> [(from: String, to: String)] { disks.map { ($0.original, $0.stored) } }
    static func outOfBin(_ disks: [RecycledDisk]) -> [(from: String, to: String)] { disks.map { ($0.stored, $0.original) } }

    /// Removes the entry's now empty recycle directories (and `.vigil-recycle` itself when empty).
    static func removeEmptyDirectories(_ disks: [RecycledDisk]) {
        for d in disks {
            let dir = (d.stored as NSString).deletingLastPathComponent
            rmdir(dir)
            rmdir((dir as NSString).deletingLastPathComponent)
        }
    }

    /// Deletes disk files, zero-filling each first when `wipe`. A file
    /// already gone counts as deleted (a purge finishing after a restart).
    /// `log` hears of a wipe's progress every tenth.
    /// `progress(fraction)` follows the zero-filling across all files.
    static func delete(_ paths: [String], wipe: Bool, log: (String) -> Void, progress: (Double) -> Void = { _ in }) throws {
        let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
        let sizes = existing.map { UInt64(FileFacts.size($0)) }
        let total = Double(max(sizes.reduce(0, +), 1))
        var before: UInt64 = 0
        for (i, path) in existing.enumerated() {
            if wipe {
                var tenth: UInt64 = 0
                let base = before
                try DiskWiper.zeroFill(path, progress: { done, size in
                    progress(Double(base + done) / total)
                    let now = size == 0 ? 10 : done * 10 / size
                    if now > tenth || (done == size && tenth == 0) {
                        tenth = now
                        log("zero-filling \(path): \(now * 10)% of \(size) bytes")
                    }
                })
            }
            before += sizes[i]
            guard unlink(path) == 0 || errno == ENOENT else {
                throw APIError(.internalServerError, "cannot delete \(path): \(String(cString: strerror(errno)))",
                               hint: "check the file's permissions")
            }
        }
    }

    /// The definition with its `<name>` (the first element: the domain's) set to `name`.
    static func renamed(_ xml: String, to name: String) -> String {
        guard let open = xml.range(of: "<name>"), let close = xml.range(of: "</name>", range: open.upperBound..<xml.endIndex) else { return xml }
        var out = xml
        out.replaceSubrange(open.upperBound..<close.lowerBound, with: XMLEscape.text(name))
        return out
    }

    /// The definition with its `<uuid>` set to `uuid`.
    static func withUUID(_ xml: String, _ uuid: String) -> String {
        guard let open = xml.range(of: "<uuid>"), let close = xml.range(of: "</uuid>", range: open.upperBound..<xml.endIndex) else { return xml }
        var out = xml
        out.replaceSubrange(open.upperBound..<close.lowerBound, with: uuid)
        return out
    }
}
