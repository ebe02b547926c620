import Core
import Foundation
import Libvirt

/// Makes a template from a VM: copies its disks (or, converting a shut-off
/// VM, moves them) into a staging directory, records checksums, writes the
/// manifest and renames the directory into place (the commit). Converting
/// then undefines the VM — journalled, so a rollback defines it again.
struct TemplateMaker: Sendable {
    struct Plan: Sendable {
        var request: TemplateCreateRequest
        var source: Domain
        var uri: String
        var running: Bool
        var definition: String
        /// The VM's disks (`to` is filled in by `perform`, in the staging directory).
        var disks: [DiskCopier.Copy]
        /// Disk targets whose images a conversion must copy flat (they have a
        /// backing file, or are not qcow2) instead of moving them.
        var mustCopy: Set<String>
    }

    let copier: DiskCopier
    let library: TemplateLibrary
    let events: EventLog

    func perform(_ input: Plan, _ ctx: OperationContext) async throws -> String {
        let r = input.request
        // Named by the operation, so its journal and a restart find it.
        let staging = library.stagingDirectory(ctx.id)
        var plan = input
        plan.disks = plan.disks.map { var d = $0; d.to = staging + "/\(d.target).qcow2"; return d }
        try ctx.willCreate(file: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        var moved: Set<String> = []
        if r.convert {
            var toCopy: [DiskCopier.Copy] = []
            for d in plan.disks {
                if plan.mustCopy.contains(d.target) { toCopy.append(d); continue }
                try ctx.willDo(.moveBack(from: d.to, to: d.from))
                if rename(d.from, d.to) == 0 { moved.insert(d.target) } else { toCopy.append(d) }  // EXDEV: other filesystem
            }
            try await copier.copy(toCopy, ctx, range: 0...0.6)
        } else if plan.running {
            try await copier.copyLive(plan.source, uri: plan.uri, plan.disks, ctx, range: 0...0.6)
        } else {
            try await copier.copy(plan.disks, ctx, range: 0...0.6)
        }
        var disks: [TemplateInfo.Disk] = []
        for d in plan.disks {
            chmod(d.to, 0o444)
            disks.append(TemplateInfo.Disk(target: d.target, file: URL(fileURLWithPath: d.to).lastPathComponent,
                                           format: try await DiskImage.info(d.to).format, virtualSize: d.virtualSize, sha256: ""))
        }
        var info = TemplateInfo(name: r.name, description: r.description, created: Date().timeIntervalSince1970,
                                source: plan.source.name, vcpus: 0, memoryMiB: 0, disks: disks)
        info = try await library.withChecksums(info, in: staging, ctx, range: 0.6...0.95, executor: copier.executor)
        let final = library.directory(r.name)
        var def = try DomainDefinition(xml: plan.definition)
        info.vcpus = def.vcpus
        info.memoryMiB = def.memoryMiB
        def.makeCopy(name: r.name, uuid: UUID().uuidString.lowercased(),
                     disks: Dictionary(uniqueKeysWithValues: disks.map { ($0.target, final + "/" + $0.file) }))
        try library.write(info, definition: def.xml, into: staging)
        try ctx.checkCancelled()
        guard !library.exists(r.name) else {
            throw APIError.conflict("a template named '\(r.name)' appeared meanwhile", hint: "choose another name")
        }
        try ctx.willDo(.moveBack(from: final, to: staging))
        try FileManager.default.moveItem(atPath: staging, toPath: final)
        if r.convert {
            let source = plan.source, xml = plan.definition
            try ctx.willDo(.redefineDomain(xml: xml, uri: plan.uri))
            try await copier.executor.run { try source.undefine([.snapshotsMetadata, .checkpointsMetadata]) }
            // The VM's own top images that were copied flat are now in the template.
            for d in plan.disks where !moved.contains(d.target) { try? FileManager.default.removeItem(atPath: d.from) }
        }
        events.record(vmUUID: plan.source.uuid, vmName: plan.source.name, kind: "template",
                      message: r.convert ? "converted into template \(r.name)" : "copied into template \(r.name)")
        return r.name
    }
}
