import Foundation
import Libvirt

/// Deletes an external snapshot: the image holding each disk's state at the
/// snapshot (`frozen`) is merged into every image that reads through it,
/// then removed, with the memory file and libvirt's record. Images the
/// running VM reads are merged by a block pull in QEMU; the others by a safe
/// `qemu-img rebase`. Every step keeps what each image shows unchanged, so
/// the work is idempotent: a vigild killed halfway finishes it at start
/// (`UndoStep.finishSnapshotDelete`), recomputing what is left from the files.
struct SnapshotMerger: Sendable {
    let executor: BlockingExecutor
    /// Caps a block pull's bandwidth (vigild --copy-rate-limit), so a merge does not starve running VMs' I/O.
    var rateLimitMiBs: Int? = nil

    struct Job: Codable, Sendable, Equatable {
        var domainUUID: String
        var uri: String
        var snapshot: String
        /// Target → image holding the disk's state at the snapshot.
        var frozen: [String: String]
        var memoryFile: String?
        /// The snapshot's parent, which its children get.
        var parent: String?
        /// The children's records as they were before the delete, and which
        /// one was current: libvirt rewrites the children's disks when it
        /// drops a record, so they are put back (with the new parent).
        var children: [String: String]
        var currentChild: String?
    }

    /// The job for deleting snapshot `name` now (it and its children as libvirt has them).
    func prepare(_ name: String, domainUUID: String, uri: String) async throws -> Job {
        let (record, children, current) = try await executor.run { () throws -> (SnapshotRecord, [String: String], String?) in
            let conn = try Connection(uri: uri)
            defer { conn.close() }
            let dom = try conn.domain(uuid: domainUUID)
            let record = try SnapshotRecord(xml: try dom.snapshot(named: name).xml(secure: true))
            var out: [String: String] = [:], current: String?
            for snap in try dom.snapshots() {
                let xml = try snap.xml(secure: true)
                guard (try SnapshotRecord(xml: xml)).parent == name else { continue }
                out[snap.name] = xml
                if try snap.isCurrent { current = snap.name }
            }
            return (record, out, current)
        }
        return Job(domainUUID: domainUUID, uri: uri, snapshot: name, frozen: record.frozen.mapValues(\.path),
                   memoryFile: record.memoryFile, parent: record.parent, children: children, currentChild: current)
    }

    /// What the domain's images are now.
    private struct Layout: Sendable {
        var active: Bool
        /// Target → image the running VM writes to.
        var liveActive: [String: String]
        /// Every image something still needs: other snapshots' states, the definitions' disks.
        var candidates: Set<String>
        var hasRecord: Bool
    }

    func finish(_ job: Job, journal: (@Sendable (UndoStep) throws -> Void)? = nil,
                progress: @escaping @Sendable (Double, String) -> Void = { _, _ in }) async throws {
        var index = 0
        for (target, frozen) in job.frozen.sorted(by: { $0.key < $1.key }) {
            let base = Double(index) / Double(max(job.frozen.count, 1))
            index += 1
            guard FileManager.default.fileExists(atPath: frozen) else { continue }
            let below = try await DiskImage.info(frozen)
            var belowFormat: String?
            if let b = below.backing { belowFormat = try await DiskImage.info(b).format }
            let layout = try await read(job)
            for dependent in try await dependents(of: frozen, among: layout.candidates) {
                progress(base, "merging \(URL(fileURLWithPath: frozen).lastPathComponent) into \(URL(fileURLWithPath: dependent).lastPathComponent)")
                if layout.active, let live = layout.liveActive[target] {
                    let chain = try await DiskImage.backingChain(live)
                    if chain.contains(dependent) {
                        // QEMU reads it: merged there (an image it no longer reads is rebased below).
                        try await pull(job, target: target, base: below.backing)
                        if live == dependent { continue }
                    }
                }
                try await DiskImage.rebase(dependent, onto: below.backing, backingFormat: belowFormat,
                                           started: { pid in try journal?(.killProcess(pid: pid, marker: dependent)) })
            }
            // Only once nothing reads through it any more.
            let after = try await read(job)
            if try await dependents(of: frozen, among: after.candidates).isEmpty, !after.candidates.contains(frozen) {
                try FileManager.default.removeItem(atPath: frozen)
            }
        }
        if let m = job.memoryFile, FileManager.default.fileExists(atPath: m) { try FileManager.default.removeItem(atPath: m) }
        let uri = job.uri, uuid = job.domainUUID, name = job.snapshot
        try await executor.run {
            let conn = try Connection(uri: uri)
            defer { conn.close() }
            let dom = try conn.domain(uuid: uuid)
            if let snap = try? dom.snapshot(named: name) { try snap.delete(.metadataOnly) }
            // The children as they were, under their new parent (the images they name are unchanged).
            for (child, xml) in job.children.sorted(by: { $0.key < $1.key }) {
                guard (try? dom.snapshot(named: child)) != nil else { continue }
                let flags: Domain.SnapshotCreateFlags = child == job.currentChild ? [.redefine, .current] : [.redefine]
                _ = try dom.createSnapshot(xml: try SnapshotRecord.reparented(xml, to: job.parent), flags)
            }
        }
        progress(1, "snapshot \(job.snapshot) deleted")
    }

    /// Pulls everything above `base` into the running disk's active image
    /// (waiting for a pull a killed vigild left running instead of starting one).
    private func pull(_ job: Job, target: String, base: String?) async throws {
        let uri = job.uri, uuid = job.domainUUID
        let dom = try await executor.run { () throws -> Domain in try Connection(uri: uri).domain(uuid: uuid) }
        if try await executor.run({ try dom.blockJob(disk: target) }) == nil {
            let bandwidth = UInt(max(rateLimitMiBs ?? 0, 0))
            try await executor.run { try dom.blockPull(disk: target, base: base, bandwidthMiBs: bandwidth) }
        }
        while try await executor.run({ try dom.blockJob(disk: target) }) != nil {
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    private func read(_ job: Job) async throws -> Layout {
        let uri = job.uri, uuid = job.domainUUID, name = job.snapshot
        return try await executor.run {
            let conn = try Connection(uri: uri)
            defer { conn.close() }
            let dom = try conn.domain(uuid: uuid)
            var candidates = Set<String>()
            var hasRecord = false
            for snap in try dom.snapshots() {
                guard snap.name != name else { hasRecord = true; continue }
                let record = try SnapshotRecord(xml: try snap.xml())
                candidates.formUnion(record.frozen.values.map(\.path))
            }
            let active = try dom.isActive
            let inactive = try dom.xml([.inactive])
            candidates.formUnion(DomainDefinition.diskFiles(in: inactive).map(\.path))
            var liveActive: [String: String] = [:]
            if active {
                let live = try dom.xml([])
                for d in (try? DomainDefinition(xml: live))?.disks ?? [] { if let p = d.path { liveActive[d.target] = p } }
                candidates.formUnion(liveActive.values)
            }
            return Layout(active: active, liveActive: liveActive, candidates: candidates, hasRecord: hasRecord)
        }
    }

    /// The images among `candidates` whose backing file is `image`.
    private func dependents(of image: String, among candidates: Set<String>) async throws -> [String] {
        var out: [String] = []
        for c in candidates.sorted() where c != image && FileManager.default.fileExists(atPath: c) {
            if (try? await DiskImage.info(c))?.backing == image { out.append(c) }
        }
        return out
    }
}
