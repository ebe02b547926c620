import Core
import Foundation
import Libvirt

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
    struct Plan: Sendable {
        var request: CloneRequest
        var source: Domain
        var sourceURI: String
        var target: Connection
        var targetURI: String
        var running: Bool
        var definition: String
        var disks: [DiskCopier.Copy]
        var newUUID: String
    }

    let copier: DiskCopier
    let events: EventLog

    func perform(_ plan: Plan, _ ctx: OperationContext) async throws -> String {
        let r = plan.request
        switch (r.mode, plan.running) {
        case (.full, false): try await copier.copy(plan.disks, ctx, range: 0...0.98)
        case (.full, true): try await copier.copyLive(plan.source, uri: plan.sourceURI, plan.disks, ctx, range: 0...0.98)
        case (.linked, _): try await link(plan, ctx)
        }
        try await copier.define(plan.definition, name: r.name, uuid: plan.newUUID, disks: plan.disks, on: plan.target,
                                uri: plan.targetURI, start: r.start, ctx)
        ctx.note(Self.conflictWarning(r.name, plan.source.name))
        events.record(vmUUID: plan.newUUID, vmName: r.name, kind: "lifecycle",
                      message: "\(r.mode.rawValue) clone of \(plan.source.name) made" + (plan.targetURI == plan.sourceURI ? "" : " on \(plan.targetURI)"))
        return r.name
    }

    static func conflictWarning(_ new: String, _ origin: String) -> String {
        "\(new) has the same guest configuration as \(origin) (hostname, static IP addresses, machine id): "
            + "change them before both are on the same network, or their addresses may conflict"
    }

    private func link(_ plan: Plan, _ ctx: OperationContext) async throws {
        let source = plan.source
        // The source moves onto fresh overlays; its current images become the shared, read-only bases.
        let overlays = plan.disks.map { d -> (String, String) in
            let dir = URL(fileURLWithPath: d.from).deletingLastPathComponent().path
            return (d.target, "\(dir)/\(source.name)-\(d.target)-\(ctx.id).qcow2")
        }
        let snapshotDisks = overlays.map { "<disk name='\($0.0)' snapshot='external'><driver type='qcow2'/><source file='\(XMLEscape.text($0.1))'/></disk>" }
        // Every other disk (CD-ROMs, shared disks) is left as it is.
        let cloned = Set(plan.disks.map(\.target))
        let untouched = try DomainDefinition(xml: plan.definition).disks.filter { !cloned.contains($0.target) }
            .map { "<disk name='\($0.target)' snapshot='no'/>" }
        let xml = "<domainsnapshot><disks>\((snapshotDisks + untouched).joined())</disks></domainsnapshot>"
        try ctx.checkCancelled()
        ctx.progress(0.1, "moving \(source.name) onto overlays")
        try await copier.executor.run { try source.createExternalDiskSnapshot(xml: xml) }
        ctx.note("\(source.name) now writes to new overlays (\(overlays.map(\.1).joined(separator: ", "))) over its former images, which are now read-only bases shared with the clone")
        for d in plan.disks {
            // QEMU opens backing files read-only; the mode keeps other tools from writing to a shared base.
            chmod(d.from, 0o444)
        }
        try await copier.overlay(plan.disks, ctx, range: 0.1...0.9)
    }
}
