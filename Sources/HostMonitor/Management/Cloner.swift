import Core
import Foundation
import Libvirt
import Synchronization

/// Makes a new VM from an existing one's definition and disks.
/// - full, source shut off: `qemu-img convert` of each disk (flattens the
///   backing chain; holds the image lock, so the source cannot start meanwhile).
/// - full, source running: a libvirt push-mode backup (a crash-consistent,
///   point-in-time copy while the guest runs).
/// - linked: an external disk-only snapshot turns the source's images into
///   read-only bases (the source continues on new overlays) and the clone gets
///   qcow2 overlays on the same bases.
/// Every file and the definition are journalled before they are made, so a
/// failure, a cancel or a killed vigild undoes them (`OperationCenter`).
struct Cloner: Sendable {
    struct DiskCopy: Sendable {
        var target: String
        var from: String
        var format: String
        var to: String
        var virtualSize: Int64
    }

    struct Plan: Sendable {
        var request: CloneRequest
        var source: Domain
        var sourceURI: String
        var target: Connection
        var targetURI: String
        var running: Bool
        var definition: String
        var disks: [DiskCopy]
        var newUUID: String
    }

    let executor: BlockingExecutor
    let events: EventLog
    let rateLimitMiBs: Int?

    func perform(_ plan: Plan, _ ctx: OperationContext) async throws -> String {
        let r = plan.request
        switch (r.mode, plan.running) {
        case (.full, false): try await copyOffline(plan, ctx)
        case (.full, true): try await copyLive(plan, ctx)
        case (.linked, _): try await link(plan, ctx)
        }
        try ctx.checkCancelled()
        ctx.progress(0.99, "defining \(r.name)")
        var def = try DomainDefinition(xml: plan.definition)
        def.makeCopy(name: r.name, uuid: plan.newUUID, disks: Dictionary(uniqueKeysWithValues: plan.disks.map { ($0.target, $0.to) }))
        try ctx.willDo(.undefineDomain(uuid: plan.newUUID, uri: plan.targetURI))
        let xml = def.xml
        let target = plan.target
        try await executor.run {
            let dom = try target.define(xml: xml)
            if r.start { try dom.create() }
        }
        ctx.note("\(r.name) has the same guest configuration as \(plan.source.name) (hostname, static IP addresses, "
            + "machine id): change them before both are on the same network, or their addresses may conflict")
        events.record(vmUUID: plan.newUUID, vmName: r.name, kind: "lifecycle",
                      message: "\(r.mode.rawValue) clone of \(plan.source.name) made" + (plan.targetURI == plan.sourceURI ? "" : " on \(plan.targetURI)"))
        return r.name
    }

    private func copyOffline(_ plan: Plan, _ ctx: OperationContext) async throws {
        let total = Double(max(plan.disks.reduce(0) { $0 + $1.virtualSize }, 1))
        var done = 0.0
        for d in plan.disks {
            try ctx.checkCancelled()
            try ctx.willCreate(file: d.to)
            let base = done
            let pidStep = Mutex<UndoStep?>(nil)
            try await DiskImage.convert(from: d.from, to: d.to, sourceFormat: d.format, rateLimitMiBs: rateLimitMiBs,
                                        started: { pid in
                                            let step = UndoStep.killProcess(pid: pid, marker: d.to)
                                            pidStep.withLock { $0 = step }
                                            try ctx.willDo(step)
                                        },
                                        progress: { p in
                                            ctx.progress((base + p * Double(d.virtualSize)) / total * 0.98,
                                                         "copying \(d.target) (\(Int(p * 100))%)")
                                        })
            if let step = pidStep.withLock({ $0 }) { ctx.done(step) }
            done += Double(d.virtualSize)
        }
    }

    private func copyLive(_ plan: Plan, _ ctx: OperationContext) async throws {
        let source = plan.source
        let disks = plan.disks.map {
            "<disk name='\($0.target)' backup='yes' type='file'><target file='\(XMLEscape.text($0.to))'/><driver type='qcow2'/></disk>"
        }.joined()
        let xml = "<domainbackup mode='push'><disks>\(disks)</disks></domainbackup>"
        for d in plan.disks { try ctx.willCreate(file: d.to) }
        let abort = UndoStep.abortJob(domainUUID: source.uuid, uri: plan.sourceURI)
        try ctx.willDo(abort)
        try await executor.run { try source.beginBackup(xml: xml) }
        while true {
            try await Task.sleep(for: .milliseconds(200))
            try ctx.checkCancelled()
            let job = try await executor.run { try source.jobProgress() }
            if job.kind == .none { break }
            ctx.progress(job.fraction * 0.98, "copying the running VM's disks (\(Int(job.fraction * 100))%)")
        }
        let outcome = try await executor.run { try source.lastJobOutcome() }
        guard outcome == .completed else {
            throw APIError(.internalServerError, "the backup job copying \(source.name)'s disks ended as \(outcome)",
                           hint: "see libvirtd's log; the partial copies were removed")
        }
        ctx.done(abort)
    }

    private func link(_ plan: Plan, _ ctx: OperationContext) async throws {
        let source = plan.source
        // The source moves onto fresh overlays; its current images become the shared, read-only bases.
        let stamp = ctx.id
        let overlays = plan.disks.map { d -> (String, String) in
            let dir = URL(fileURLWithPath: d.from).deletingLastPathComponent().path
            return (d.target, "\(dir)/\(source.name)-\(d.target)-\(stamp).qcow2")
        }
        let snapshotDisks = overlays.map { "<disk name='\($0.0)' snapshot='external'><driver type='qcow2'/><source file='\(XMLEscape.text($0.1))'/></disk>" }
        // Every other disk (CD-ROMs, shared disks) is left as it is.
        let cloned = Set(plan.disks.map(\.target))
        let untouched = try DomainDefinition(xml: plan.definition).disks.filter { !cloned.contains($0.target) }
            .map { "<disk name='\($0.target)' snapshot='no'/>" }
        let xml = "<domainsnapshot><disks>\((snapshotDisks + untouched).joined())</disks></domainsnapshot>"
        try ctx.checkCancelled()
        ctx.progress(0.1, "moving \(source.name) onto overlays")
        try await executor.run { try source.createExternalDiskSnapshot(xml: xml) }
        ctx.note("\(source.name) now writes to new overlays (\(overlays.map(\.1).joined(separator: ", "))) over its former images, which are now read-only bases shared with the clone")
        for d in plan.disks {
            // QEMU opens backing files read-only; the mode keeps other tools from writing to a shared base.
            chmod(d.from, 0o444)
        }
        for (i, d) in plan.disks.enumerated() {
            try ctx.checkCancelled()
            try ctx.willCreate(file: d.to)
            try await DiskImage.createOverlay(d.to, backing: d.from, backingFormat: d.format)
            ctx.progress(0.1 + 0.8 * Double(i + 1) / Double(plan.disks.count), "overlay for \(d.target)")
        }
    }
}
