import Core
import Foundation
import Libvirt
import Synchronization

/// One migration as libvirt carries it out (peer to peer: libvirtd here
/// drives it, so it finishes or fails by itself even if vigild dies), with
/// what vigild adds: progress from the job statistics, the timeout that
/// pauses a source that does not converge (or switches to post-copy), cancel
/// by aborting the job, and the figures for the history.
struct LiveMigration: Sendable {
    let executor: BlockingExecutor
    let center: ProtectionCenter
    let source: String
    let plan: MigrationService.Plan

    /// What the history keeps of a finished migration.
    struct Outcome: Sendable {
        var totalMs: Double
        var downtimeMs: Double?
        var dataBytes: UInt64?
        var iterations: UInt64?
        var dirtyRate: UInt64?
        var compressedBytes: UInt64?
        var pausedByTimeout = false
        var live: Bool

        func summary(to destination: String) -> String {
            var s = "\(live ? "live" : "offline") migration to \(destination) succeeded in \(Int(totalMs)) ms"
            if let d = downtimeMs { s += ", downtime \(Int(d)) ms" }
            if let b = dataBytes { s += ", \(b / 1_048_576) MiB moved" }
            if let i = iterations { s += ", \(i) iterations" }
            if let c = compressedBytes, c > 0 { s += ", \(c / 1024) KiB compressed" }
            if pausedByTimeout { s += " (the source was paused at the timeout so it could complete)" }
            return s
        }
    }

    func run(_ ctx: OperationContext) async throws -> Outcome {
        let r = plan.request, uuid = plan.uuid, destination = r.destination, live = plan.live
        var flags: Domain.MigrationFlags = [.persistDestination, .undefineSource, .unsafe, .abortOnError]
        var params = Domain.MigrationParameters()
        if live {
            flags.insert(.live)
            if let c = r.compress {
                flags.insert(.compressed)
                params.compression = [c]
                params.compressionLevel = r.compressLevel.map(Int32.init)
                params.compressionThreads = r.compressThreads.map(Int32.init)
            }
            if r.autoConverge == true { flags.insert(.autoConverge) }
            if r.postcopy == true { flags.insert(.postcopy) }
        } else {
            flags.insert(.offline)
        }
        params.bandwidthMiBs = r.bandwidthMiBs.map(UInt64.init)
        // The cap holds after the switch to post-copy too (QEMU has none there by default).
        if r.postcopy == true { params.postcopyBandwidthMiBs = params.bandwidthMiBs }
        let sourceURI = source
        let dom = try await executor.run { () throws -> Domain in
            let conn = try Connection(uri: sourceURI)
            let dom = try conn.domain(uuid: uuid)
            if let d = r.maxDowntimeMs, live { try dom.setMaxMigrationDowntime(ms: UInt64(d)) }
            return dom
        }
        if let storage = plan.storage {
            guard live else { return try await moveOffline(dom, storage, ctx) }
            // NBD copies each disk into an image that must exist there first.
            try await makeVolumes(storage, ctx, format: "qcow2")
            flags.insert(.copyStorage)
            params.disks = storage.disks.map(\.target)
            let paths = Dictionary(uniqueKeysWithValues: storage.disks.map { ($0.target, $0.to) })
            let (liveXML, persistentXML) = try await executor.run { () throws -> (String, String) in
                var running = try DomainDefinition(xml: try dom.xml([.migratable, .secure]))
                running.setDiskImages(paths)
                var persistent = try DomainDefinition(xml: try dom.xml([.inactive, .secure]))
                persistent.setDiskImages(paths)
                return (running.xml, persistent.xml)
            }
            params.destinationXML = liveXML
            params.persistentXML = persistentXML
        }
        // The switch-over pauses the guest: its silence then is not a hang.
        if live { await center.mutate(uuid) { $0.machine.migrationStarted() } }
        let began = ContinuousClock.now
        let paused = PauseFlag()
        let executor = self.executor, chosen = flags, parameters = params
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await withTaskCancellationHandler {
                        try await executor.run { try dom.migrate(toURI: destination, flags: chosen, parameters: parameters) }
                    } onCancel: {
                        // The blocking call returns once the job is aborted.
                        try? dom.abortJob()
                    }
                }
                if live {
                    group.addTask {
                        try await watch(dom, began: began, ctx: ctx, paused: paused)
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            if live, r.postcopy == true, (try? await executor.run { try dom.state() })?.isPostcopyFailed == true {
                // Past the switch-over the guest ran there on pages still here;
                // QEMU 7.2 cannot reliably resume that (see MigrationSettler).
                let source = self.source
                let split = "post-copy to \(destination) lost its link (\(error)); the guest's memory was split between the hosts, "
                do {
                    try await executor.run {
                        try MigrationSettler.restartAfterBrokenPostcopy(uuid: uuid, source: source, destination: destination)
                    }
                } catch let restart {
                    throw MigrationSettler.Unsettled(description: split + "and powering it off on both to start it again here "
                        + "failed (\(restart)): make sure it runs on neither host, then 'vigil vm start \(plan.name)' here")
                }
                throw MigrationSettler.Unsettled(description: split + "so it was powered off on both and started again here "
                    + "from its disks, as after a power failure")
            }
            // Still here: carry on running, protected as before.
            if paused.isSet { try? await executor.run { try dom.resume() } }
            if live { await center.mutate(uuid) { $0.machine.domainResumed(at: .now) } }
            throw error
        }
        var outcome = Outcome(totalMs: began.duration(to: .now).milliseconds, live: live)
        outcome.pausedByTimeout = paused.isSet
        ctx.progress(0.99, "finished; reading the figures")
        // libvirt keeps the finished job's statistics on the destination.
        let wasPaused = outcome.pausedByTimeout
        let stats = try? await executor.run { () throws -> [String: TypedValue] in
            let conn = try Connection(uri: destination)
            defer { conn.close() }
            let moved = try conn.domain(uuid: uuid)
            // A source paused by the timeout arrives paused: it runs on there.
            if wasPaused, try moved.state().state == .paused { try moved.resume() }
            return live ? try moved.jobStatistics(completed: true).values : [:]
        }
        if let stats {
            outcome.downtimeMs = stats["downtime"].map { Double($0.number) }
            outcome.dataBytes = stats["data_processed"]?.number ?? stats["memory_processed"]?.number
            outcome.iterations = stats["memory_iteration"]?.number
            outcome.dirtyRate = stats["memory_dirty_rate"]?.number
            outcome.compressedBytes = stats["compression_bytes"]?.number
            if let t = stats["time_elapsed"] { outcome.totalMs = Double(t.number) }
        }
        return outcome
    }

    /// Creates the destination's images (journalled first: removed again unless the move commits).
    private func makeVolumes(_ storage: MigrationService.StoragePlan, _ ctx: OperationContext, format: String,
                             sizes: [String: Int64] = [:]) async throws {
        for d in storage.disks {
            try ctx.willDo(.deleteRemoteVolume(uri: plan.request.destination, path: d.to, domainUUID: plan.uuid, source: source))
        }
        let destination = plan.request.destination
        try await executor.run {
            let conn = try Connection(uri: destination)
            defer { conn.close() }
            try RemoteStorage.with(conn, directory: storage.directory, pool: storage.pool) { pool, _ in
                for d in storage.disks {
                    let bytes = sizes[d.target] ?? d.virtualBytes
                    let xml = "<volume><name>\(XMLEscape.text(URL(fileURLWithPath: d.to).lastPathComponent))</name>"
                        + "<capacity unit='bytes'>\(bytes)</capacity><target><format type='\(format)'/></target></volume>"
                    _ = try pool.createVolume(xml: xml)
                }
            }
        }
    }

    /// A shut-off VM and its disks to another host: each disk (its chain
    /// flattened first) uploaded through the destination's libvirtd, then
    /// the VM defined there and undefined here.
    private func moveOffline(_ dom: Domain, _ storage: MigrationService.StoragePlan, _ ctx: OperationContext) async throws -> Outcome {
        let began = ContinuousClock.now
        var uploads: [String: String] = [:], sizes: [String: Int64] = [:]
        for d in storage.disks {
            try ctx.checkCancelled()
            var file = d.from
            if (try? await DiskImage.info(d.from))?.backing != nil {
                // The destination cannot see this host's backing files: one standalone image.
                file = d.from + ".vigil-upload"
                try ctx.willCreate(file: file)
                try await DiskImage.convert(from: d.from, to: file, progress: { p in ctx.progress(0.4 * p, "flattening \(d.target)") })
            }
            uploads[d.target] = file
            sizes[d.target] = FileFacts.size(file)
        }
        try await makeVolumes(storage, ctx, format: "raw", sizes: sizes)
        let destination = plan.request.destination, uuid = plan.uuid, files = uploads
        let paths = Dictionary(uniqueKeysWithValues: storage.disks.map { ($0.target, $0.to) })
        try await executor.run {
            let conn = try Connection(uri: destination)
            defer { conn.close() }
            try RemoteStorage.with(conn, directory: storage.directory, pool: storage.pool) { pool, _ in
                try? pool.refresh()
                for d in storage.disks {
                    guard let file = files[d.target] else { continue }
                    try pool.volume(named: URL(fileURLWithPath: d.to).lastPathComponent).upload(from: file)
                }
            }
            var def = try DomainDefinition(xml: try dom.xml([.inactive, .secure]))
            def.setDiskImages(paths)
            _ = try conn.define(xml: def.xml)
            // Defined there: here it goes (the journal's settle step keeps exactly one if this is cut short).
            guard let here = try? dom.connection.domain(uuid: uuid) else { return }
            try here.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata])
        }
        for (target, file) in uploads where file != storage.disks.first(where: { $0.target == target })?.from {
            try? FileManager.default.removeItem(atPath: file)
        }
        return Outcome(totalMs: began.duration(to: .now).milliseconds, live: false)
    }

    /// Progress every half second; at the timeout, pauses the source (or
    /// switches to post-copy when asked) so the migration converges.
    /// Post-copy without a timeout switches once the first full pass is
    /// done, as `virsh migrate --postcopy-after-precopy` does.
    private func watch(_ dom: Domain, began: ContinuousClock.Instant, ctx: OperationContext, paused: PauseFlag) async throws {
        let r = plan.request
        var acted = false
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(500))
            guard let stats = try? await executor.run({ try dom.jobStatistics() }), stats.kind != .none else { continue }
            let total = stats.values["data_total"]?.number ?? 0, done = stats.values["data_processed"]?.number ?? 0
            let iteration = stats.values["memory_iteration"]?.number ?? 0
            ctx.progress(total > 0 ? min(0.98, Double(done) / Double(total)) : 0,
                         "\(done / 1_048_576) of \(total / 1_048_576) MiB, iteration \(iteration)")
            let due = r.timeoutSeconds.map { began.duration(to: .now) >= .seconds($0) } ?? (r.postcopy == true && iteration >= 2)
            if due, !acted {
                acted = true
                if r.postcopy == true {
                    try? await executor.run { try dom.startPostCopy() }
                } else if (try? await executor.run { try dom.suspend() }) != nil {
                    paused.set()
                    ctx.progress(total > 0 ? min(0.98, Double(done) / Double(total)) : 0, "timeout: source paused so the migration completes")
                }
            }
        }
    }
}

/// Whether the timeout paused the source (set by the watcher, read after the move).
final class PauseFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

extension MigrationRecord {
    mutating func apply(_ o: LiveMigration.Outcome) {
        ended = Date().timeIntervalSince1970
        totalMs = o.totalMs
        downtimeMs = o.downtimeMs
        dataBytes = o.dataBytes
        iterations = o.iterations
        dirtyRatePagesPerSecond = o.dirtyRate
        compressedBytes = o.compressedBytes
        pausedByTimeout = o.pausedByTimeout
    }
}
