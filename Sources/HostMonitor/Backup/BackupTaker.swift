import Core
import Foundation
import Libvirt

/// Takes one backup through libvirt's push-mode backup API: QEMU copies a
/// point-in-time view of every disk (only the blocks its dirty bitmaps
/// marked since the parent's checkpoint, for an incremental or
/// differential) while the guest runs, and libvirt creates the next
/// checkpoint at the same instant. The images are made into a chain on the
/// parent's, hashed, moved to the destination, and published by one rename
/// once whole. A shut-off VM is started paused for the copy (libvirt backs
/// up running domains only) and stopped again.
struct BackupTaker: Sendable {
    let executor: BlockingExecutor

    struct Disk: Sendable, Equatable {
        var target: String
        var virtualBytes: Int64
    }

    struct Plan: Sendable {
        var domain: Domain
        var uri: String
        var store: any BackupStore
        var ssh: SSHSettings
        var id: String
        var decision: BackupChain.Decision
        var disks: [Disk]
        /// Disks left out (CD-ROMs, shared, read-only, not file-backed).
        var skipped: [String]
        /// All disks are qcow2, so a checkpoint (dirty bitmaps) can be made.
        var checkpoints: Bool
        var running: Bool
        var quiesce: Bool?
        var hasGuestAgentChannel: Bool
        var compress: Bool
        var rateLimitMiBs: Int?
        var tempDirectory: String
        /// The definition stored with the backup (settings and policy are its metadata).
        var definition: String
        var policy: String?
        /// The VM's backups in this destination before this one.
        var existing: [BackupInfo]
    }

    /// What an interrupted backup leaves for the journal to clean up
    /// (`BackupCleanup`): everything needed, so it works without vigild's state.
    struct Leftovers: Codable, Sendable, Equatable {
        var domainUUID: String
        var uri: String
        var checkpoint: String?
        var destination: String
        var ssh: SSHIdentity
        var partial: String
        var final: String
        var staging: String?
        var startedPaused: Bool
    }

    /// `SSHSettings` as the journal keeps it.
    struct SSHIdentity: Codable, Sendable, Equatable {
        var identity: String?
        var knownHosts: String?
        var settings: SSHSettings { SSHSettings(identity: identity, knownHosts: knownHosts) }
    }

    func perform(_ plan: Plan, _ ctx: OperationContext) async throws -> BackupManifest {
        let dom = plan.domain, uuid = dom.uuid, store = plan.store
        let root = store.destination.root
        let partial = BackupLayout.partial(root, uuid, plan.id), final = BackupLayout.directory(root, uuid, plan.id)
        // libvirt writes straight into a local destination unless the data must pass through vigild first.
        var direct = store.localRoot != nil && !plan.compress && plan.rateLimitMiBs == nil
        let staging = plan.tempDirectory + "/\(uuid)-\(plan.id)"
        let checkpoint = plan.checkpoints ? BackupLayout.checkpointName(plan.id, destination: store.destination) : nil
        let leftovers = Leftovers(domainUUID: uuid, uri: plan.uri, checkpoint: checkpoint, destination: store.destination.description,
                                  ssh: SSHIdentity(identity: plan.ssh.identity, knownHosts: plan.ssh.knownHosts),
                                  partial: partial, final: final, staging: staging, startedPaused: !plan.running)
        let cleanup = UndoStep.abandonBackup(leftovers)
        try ctx.willDo(cleanup)
        try await removeStalePartials(store, root: root, uuid: uuid, except: plan.id)
        try await store.makeDirectory(partial)
        if !direct { try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true) }
        var workDir = direct ? partial : staging

        if !plan.running {
            ctx.progress(0.01, "starting \(dom.name) paused (libvirt backs up running domains only)")
            try await executor.run { try dom.createPaused() }
        }
        var notes: [String] = []
        if case .full(let reason?) = plan.decision { notes.append("full backup: \(reason)") }
        var decision = plan.decision
        var consistency: String?
        while consistency == nil {
            do {
                consistency = try await begin(plan, decision: decision, workDir: workDir, checkpoint: checkpoint, notes: &notes)
            } catch let e as LibvirtError where direct && e.message.contains("Could not open") {
                // QEMU lives in its own mount namespace: a destination mounted after the VM
                // started (on a host without shared mount propagation) is not there for it.
                notes.append("QEMU cannot see \(root) (mounted after the VM started?): the copy went through \(plan.tempDirectory)")
                direct = false
                try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
                workDir = staging
            } catch let e as LibvirtError where Self.isCheckpointFailure(e) {
                guard case .build(_, let parent) = decision else { throw e }
                // The parent's bitmap is gone or inconsistent (a crash, a restore): start a new chain.
                let why = "the checkpoint of backup \(parent.id) is unusable (\(e.message))"
                notes.append("full backup: \(why)")
                let name = BackupLayout.checkpointName(parent.id, destination: store.destination)
                try? await executor.run { try dom.checkpoint(named: name).delete(metadataOnly: true) }
                decision = .full(reason: why)
                for d in plan.disks { try? FileManager.default.removeItem(atPath: workDir + "/" + BackupLayout.image(d.target)) }
            }
        }
        try await watch(dom, ctx, range: 0.02...0.8)

        let level: BackupLevel, parent: BackupInfo?
        switch decision {
        case .build(let l, let p): (level, parent) = (l, p)
        case .full: (level, parent) = (.full, nil)
        }
        var files: [BackupManifest.StoredFile] = [], disks: [BackupDiskInfo] = []
        for (i, d) in plan.disks.enumerated() {
            try ctx.checkCancelled()
            let image = BackupLayout.image(d.target)
            let made = workDir + "/" + image
            if let parent {
                // The copy holds only changed blocks; unchanged ones read through the parent's image.
                try await DiskImage.setBacking(made, to: BackupLayout.backingReference(parent: parent.id, target: d.target))
            }
            var stored = image, local = made
            if plan.compress {
                stored = image + ".zst"
                // A local destination without a cap takes zstd's output directly.
                let intoPlace = store.localRoot != nil && plan.rateLimitMiBs == nil
                local = (intoPlace ? partial : workDir) + "/" + stored
                ctx.progress(0.8 + 0.1 * Double(i) / Double(plan.disks.count), "compressing \(d.target)")
                try await Compression.compress(made, to: local)
            }
            let hashed = local
            let hashes = try await executor.run { try ChunkHasher.file(hashed, chunk: BackupManifest.chunkBytes) }
            if local != partial + "/" + stored {
                ctx.progress(0.85 + 0.1 * Double(i) / Double(plan.disks.count), "writing \(d.target) to \(store.destination)")
                try await store.upload(local, to: partial + "/" + stored, rateLimitMiBs: plan.rateLimitMiBs)
            }
            files.append(.init(name: stored, bytes: hashes.bytes, sha256: hashes.hashes))
            disks.append(BackupDiskInfo(target: d.target, file: stored, virtualBytes: d.virtualBytes, storedBytes: hashes.bytes))
        }
        if !plan.skipped.isEmpty { notes.append("not backed up: \(plan.skipped.joined(separator: ", ")) (not the VM's own file-backed disks)") }
        if !plan.checkpoints { notes.append("not all disks are qcow2, so no checkpoint was made: the next backup is a full") }
        let info = BackupInfo(id: plan.id, vm: dom.name, vmUUID: uuid, level: level, parent: parent?.id,
                              base: parent?.base ?? plan.id, created: Date().timeIntervalSince1970, disks: disks,
                              consistency: consistency ?? "crash-consistent", note: notes.isEmpty ? nil : notes.joined(separator: "; "),
                              compressed: plan.compress, vmWasShutOff: !plan.running, destination: store.destination.description,
                              policy: plan.policy)
        let manifest = BackupManifest(info: info, checkpoint: checkpoint, chunkBytes: BackupManifest.chunkBytes, files: files)
        try ctx.checkCancelled()
        ctx.progress(0.97, "publishing backup \(plan.id)")
        try await store.write(Data(plan.definition.utf8), to: partial + "/domain.xml")
        try await store.write(try manifest.encoded(), to: partial + "/" + BackupManifest.fileName)
        // The one step that makes the backup exist: before it nothing is listed, after it all is there.
        try await store.rename(partial, to: final)
        try? FileManager.default.removeItem(atPath: staging)
        await pruneCheckpoints(dom, chain: BackupChain(plan.existing + [info]), destination: store.destination)
        if !plan.running {
            // SIGTERM, not SIGKILL: QEMU then writes the dirty bitmaps out, so the next incremental can use them.
            try? await executor.run { if try dom.isActive { try dom.destroy(graceful: true) } }
        }
        ctx.done(cleanup)
        return manifest
    }

    /// Freezes (when it can), begins the backup with its checkpoint, thaws;
    /// returns the consistency reached.
    private func begin(_ plan: Plan, decision: BackupChain.Decision, workDir: String, checkpoint: String?,
                       notes: inout [String]) async throws -> String {
        let dom = plan.domain
        var backup = "<domainbackup mode='push'>"
        if case .build(_, let parent) = decision {
            backup += "<incremental>\(XMLEscape.text(BackupLayout.checkpointName(parent.id, destination: plan.store.destination)))</incremental>"
        }
        backup += "<disks>"
        for d in plan.disks {
            let file = workDir + "/" + BackupLayout.image(d.target)
            backup += "<disk name='\(XMLEscape.text(d.target))' backup='yes' type='file'><driver type='qcow2'/>"
                + "<target file='\(XMLEscape.text(file))'/></disk>"
        }
        for t in plan.skipped { backup += "<disk name='\(XMLEscape.text(t))' backup='no'/>" }
        backup += "</disks></domainbackup>"
        var checkpointXML: String?
        if let checkpoint {
            var x = "<domaincheckpoint><name>\(XMLEscape.text(checkpoint))</name><disks>"
            for d in plan.disks { x += "<disk name='\(XMLEscape.text(d.target))' checkpoint='bitmap'/>" }
            for t in plan.skipped { x += "<disk name='\(XMLEscape.text(t))' checkpoint='no'/>" }
            checkpointXML = x + "</disks></domaincheckpoint>"
        }
        let xml = backup, cp = checkpointXML
        // A VM started paused for the copy runs nothing that could need freezing.
        let tryFreeze = plan.running && plan.quiesce != false && plan.hasGuestAgentChannel
        if plan.running && plan.quiesce == true && !plan.hasGuestAgentChannel {
            throw APIError.conflict("\(dom.name) has no qemu-guest-agent channel, so its filesystems cannot be frozen",
                                    hint: "add the channel (vigil policy set adds Vigil's; qemu-ga or vigil-agent --qga serves it), or leave out --quiesce")
        }
        var frozen = false
        if tryFreeze {
            do {
                try await executor.run { try dom.freezeFilesystems() }
                frozen = true
            } catch let e as LibvirtError {
                if plan.quiesce == true { throw APIError.conflict("the guest agent of \(dom.name) could not freeze its filesystems: \(e.message)",
                                                                  hint: "check the agent, or leave out --quiesce for a crash-consistent backup") }
                notes.append("crash-consistent: the guest agent did not freeze the filesystems (\(e.message))")
            }
        }
        do {
            try await executor.run { try dom.beginBackup(xml: xml, checkpointXML: cp, reuseExternal: false) }
        } catch {
            if frozen { try? await executor.run { try dom.thawFilesystems() } }
            throw error
        }
        // The backup's instant is fixed once the job began: thaw at once.
        if frozen { try? await executor.run { try dom.thawFilesystems() } }
        return frozen ? "quiesced" : (plan.running ? "crash-consistent" : "shut off")
    }

    /// Follows the backup job to its end; cancelling aborts it.
    private func watch(_ dom: Domain, _ ctx: OperationContext, range: ClosedRange<Double>) async throws {
        // Small incrementals end within milliseconds: look soon, then every 100 ms.
        var pause = 10
        while true {
            try await Task.sleep(for: .milliseconds(pause))
            pause = min(pause * 2, 100)
            if ctx.isCancelled || Task.isCancelled {
                try? await executor.run { try dom.abortJob() }
                throw OperationCancelled()
            }
            let job = try await executor.run { try dom.jobProgress() }
            if job.kind == .none { break }
            ctx.progress(range.lowerBound + job.fraction * (range.upperBound - range.lowerBound),
                         "copying: \(job.dataProcessed >> 20) of \(job.dataTotal >> 20) MiB")
        }
        let outcome = try await executor.run { try dom.lastJobOutcome() }
        guard outcome == .completed else {
            throw APIError(.internalServerError, "the backup job of \(dom.name) ended as \(outcome)",
                           hint: "see libvirtd's log and the destination's free space; nothing was kept")
        }
    }

    /// Deletes this destination's checkpoints that no next backup can use
    /// (each costs QEMU a bitmap update per guest write). Done while the VM
    /// runs: libvirt deletes bitmaps of running domains only.
    private func pruneCheckpoints(_ dom: Domain, chain: BackupChain, destination: BackupDestination) async {
        let keep = Set(chain.usefulCheckpoints.map { BackupLayout.checkpointName($0, destination: destination) })
        let prefix = BackupLayout.checkpointPrefix(destination)
        try? await executor.run {
            for cp in try dom.checkpoints() where cp.name.hasPrefix(prefix) && !keep.contains(cp.name) {
                do { try cp.delete() } catch { try? cp.delete(metadataOnly: true) }
            }
        }
    }

    /// Directories of backups a killed vigild or a dropped link left half-written.
    private func removeStalePartials(_ store: any BackupStore, root: String, uuid: String, except id: String) async throws {
        let dir = BackupLayout.vmDirectory(root, uuid)
        for entry in try await store.list(dir) where entry.hasPrefix(".partial-") && entry != ".partial-\(id)" {
            try await store.remove(dir + "/" + entry)
        }
    }

    static func isCheckpointFailure(_ e: LibvirtError) -> Bool {
        let m = e.message.lowercased()
        return e.code == .noDomainCheckpoint || m.contains("bitmap") || m.contains("checkpoint")
    }
}
