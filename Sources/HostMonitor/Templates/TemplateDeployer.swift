import Core
import Foundation
import Libvirt

/// Deploys a VM from a template: checks the template's images against
/// their recorded checksums first (a corrupt template deploys nothing),
/// then copies them (full) or puts overlays on them (linked) and defines
/// the VM with a new name, UUID and MAC addresses.
struct TemplateDeployer: Sendable {
    let copier: DiskCopier
    let library: TemplateLibrary
    let events: EventLog

    func perform(template: TemplateInfo, _ r: TemplateDeployRequest, directory: String, on conn: Connection, uri: String,
                 _ ctx: OperationContext) async throws -> String {
        let dir = library.directory(template.name)
        let problems = try await library.verify(template, in: dir, ctx, range: 0...0.4, executor: copier.executor)
        guard problems.isEmpty else {
            throw APIError.conflict("template \(template.name) failed its integrity check: \(problems.joined(separator: "; "))",
                                    hint: "nothing was deployed; re-create or re-import the template")
        }
        let disks = template.disks.map {
            DiskCopier.Copy(target: $0.target, from: dir + "/" + $0.file, format: $0.format,
                            to: directory + "/\(r.name)-\($0.target).qcow2", virtualSize: $0.virtualSize)
        }
        switch r.mode {
        case .full: try await copier.copy(disks, ctx, range: 0.4...0.98)
        case .linked: try await copier.overlay(disks, ctx, range: 0.4...0.98)
        }
        let uuid = UUID().uuidString.lowercased()
        try await copier.define(try library.definition(template.name), name: r.name, uuid: uuid, disks: disks,
                                on: conn, uri: uri, start: r.start, ctx)
        ctx.note(Cloner.conflictWarning(r.name, "template \(template.name)"))
        events.record(vmUUID: uuid, vmName: r.name, kind: "lifecycle",
                      message: "deployed from template \(template.name) (\(r.mode.rawValue))")
        return r.name
    }
}
