import Core
import Foundation
import Libvirt
import Synchronization

/// The journalled disk steps that clones, templates and deploys are made
/// of. Each journals what it creates before creating it and reports
/// progress within `range` of the operation's whole.
struct DiskCopier: Sendable {
    struct Copy: Sendable {
        var target: String
        var from: String
        var format: String
        var to: String
        var virtualSize: Int64
    }

    let executor: BlockingExecutor
    let rateLimitMiBs: Int?

    /// Independent copies with `qemu-img convert` (backing chains flattened).
    func copy(_ disks: [Copy], _ ctx: OperationContext, range: ClosedRange<Double>) async throws {
        let total = Double(max(disks.reduce(0) { $0 + $1.virtualSize }, 1))
        var done = 0.0
        for d in disks {
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
                                            let whole = (base + p * Double(d.virtualSize)) / total
                                            ctx.progress(range.lowerBound + whole * (range.upperBound - range.lowerBound),
                                                         "copying \(d.target) (\(Int(p * 100))%)")
                                        })
            if let step = pidStep.withLock({ $0 }) { ctx.done(step) }
            done += Double(d.virtualSize)
        }
    }

    /// Point-in-time copies of a running domain's disks (libvirt push backup).
    func copyLive(_ domain: Domain, uri: String, _ disks: [Copy], _ ctx: OperationContext, range: ClosedRange<Double>) async throws {
        let elements = disks.map {
            "<disk name='\($0.target)' backup='yes' type='file'><target file='\(XMLEscape.text($0.to))'/><driver type='qcow2'/></disk>"
        }.joined()
        let xml = "<domainbackup mode='push'><disks>\(elements)</disks></domainbackup>"
        for d in disks { try ctx.willCreate(file: d.to) }
        let abort = UndoStep.abortJob(domainUUID: domain.uuid, uri: uri)
        try ctx.willDo(abort)
        try await executor.run { try domain.beginBackup(xml: xml) }
        while true {
            try await Task.sleep(for: .milliseconds(200))
            try ctx.checkCancelled()
            let job = try await executor.run { try domain.jobProgress() }
            if job.kind == .none { break }
            ctx.progress(range.lowerBound + job.fraction * (range.upperBound - range.lowerBound),
                         "copying the running VM's disks (\(Int(job.fraction * 100))%)")
        }
        let outcome = try await executor.run { try domain.lastJobOutcome() }
        guard outcome == .completed else {
            throw APIError(.internalServerError, "the backup job copying \(domain.name)'s disks ended as \(outcome)",
                           hint: "see libvirtd's log; the partial copies were removed")
        }
        ctx.done(abort)
    }

    /// qcow2 overlays on read-only bases (`from`). `undo` is what a rollback
    /// does with each (by default: remove it).
    func overlay(_ disks: [Copy], _ ctx: OperationContext, range: ClosedRange<Double>,
                 undo: (Copy) -> UndoStep = { .removeFile(path: $0.to) }) async throws {
        for (i, d) in disks.enumerated() {
            try ctx.checkCancelled()
            try ctx.willDo(undo(d))
            try await DiskImage.createOverlay(d.to, backing: d.from, backingFormat: d.format, virtualSize: d.virtualSize)
            ctx.progress(range.lowerBound + Double(i + 1) / Double(disks.count) * (range.upperBound - range.lowerBound),
                         "overlay for \(d.target)")
        }
    }

    /// Defines a new VM from `definition` with a new identity and the copies'
    /// images; journalled so a rollback undefines it.
    func define(_ definition: String, name: String, uuid: String, disks: [Copy], on target: Connection, uri: String,
                start: Bool, _ ctx: OperationContext) async throws {
        try ctx.checkCancelled()
        ctx.progress(0.99, "defining \(name)")
        var def = try DomainDefinition(xml: definition)
        def.makeCopy(name: name, uuid: uuid, disks: Dictionary(uniqueKeysWithValues: disks.map { ($0.target, $0.to) }))
        try ctx.willDo(.undefineDomain(uuid: uuid, uri: uri))
        let xml = def.xml
        try await executor.run {
            let dom = try target.define(xml: xml)
            if start { try dom.create() }
        }
    }
}
