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

    /// Makes the clone's overlays on read-only bases. A disk whose image is
    /// still an empty overlay on a read-only base (a shut-off VM that was
    /// linked-cloned before and has not run since) shares that base at once,
    /// so cloning one golden VM many times does not deepen its chain. Other
    /// disks are frozen first: the source moves onto fresh overlays.
    private func link(_ plan: Plan, _ ctx: OperationContext) async throws {
        var bases = plan.disks
        var freeze: [DiskCopier.Copy] = []
        for (i, d) in plan.disks.enumerated() {
            if !plan.running, let base = try Self.frozenBase(under: d) {
                (bases[i].from, bases[i].format) = base
            } else {
                freeze.append(d)
            }
        }
        if !freeze.isEmpty {
            try ctx.checkCancelled()
            ctx.progress(0.1, "moving \(plan.source.name) onto overlays")
            // The source's own new overlays: on its current images, beside them.
            let own = freeze.map { d in
                var o = d
                o.to = URL(fileURLWithPath: d.from).deletingLastPathComponent().appendingPathComponent("\(plan.source.name)-\(d.target)-\(ctx.id).qcow2").path
                return o
            }
            let overlays = Dictionary(uniqueKeysWithValues: own.map { ($0.target, $0.to) })
            if plan.running {
                try await snapshot(plan, overlays)
            } else {
                try await redefine(plan, own, overlays, ctx)
            }
            ctx.note("\(plan.source.name) now writes to new overlays (\(own.map(\.to).joined(separator: ", "))) over its former images, which are now read-only bases shared with the clone")
            for d in freeze {
                // QEMU opens backing files read-only; the mode keeps other tools from writing to a shared base.
                chmod(d.from, 0o444)
            }
        }
        try await copier.overlay(bases, ctx, range: 0.1...0.9)
    }

    /// The read-only base (and its format) under `d`'s image when that image
    /// is an overlay holding no data of its own.
    static func frozenBase(under d: DiskCopier.Copy) throws -> (String, String)? {
        guard d.format == "qcow2", let h = try QCOW2.header(d.from), let backing = h.backingFile,
              let format = h.backingFormat, ["qcow2", "raw"].contains(format) else { return nil }
        let base = backing.hasPrefix("/") ? backing
            : URL(fileURLWithPath: d.from).deletingLastPathComponent().appendingPathComponent(backing).path
        var st = stat()
        guard stat(base, &st) == 0, st.st_mode & 0o222 == 0, try QCOW2.isEmpty(d.from, h) else { return nil }
        return (base, format)
    }

    /// A running source: libvirt's external disk-only snapshot switches QEMU
    /// onto the overlays live.
    private func snapshot(_ plan: Plan, _ overlays: [String: String]) async throws {
        let source = plan.source
        let snapshotDisks = overlays.sorted { $0.key < $1.key }.map {
            "<disk name='\($0.key)' snapshot='external'><driver type='qcow2'/><source file='\(XMLEscape.text($0.value))'/></disk>"
        }
        // Every other disk (CD-ROMs, shared disks) is left as it is.
        let untouched = try DomainDefinition(xml: plan.definition).disks.filter { overlays[$0.target] == nil }
            .map { "<disk name='\($0.target)' snapshot='no'/>" }
        let xml = "<domainsnapshot><disks>\((snapshotDisks + untouched).joined())</disks></domainsnapshot>"
        try await copier.executor.run { try source.createExternalDiskSnapshot(xml: xml) }
    }

    /// A shut-off source: what libvirt's snapshot would do, without its
    /// qemu-img run: write the overlays, then point the definition at them.
    /// An overlay the source does not use by then is removed on rollback;
    /// once defined it is the source's and stays.
    private func redefine(_ plan: Plan, _ own: [DiskCopier.Copy], _ overlays: [String: String],
                          _ ctx: OperationContext) async throws {
        let source = plan.source
        try await copier.overlay(own, ctx, range: 0.1...0.1) {
            .removeFileUnlessUsed(path: $0.to, domainUUID: source.uuid, uri: plan.sourceURI)
        }
        try await copier.executor.run {
            var def = try DomainDefinition(xml: try source.xml([.inactive, .secure]))
            def.setDiskImages(overlays)
            try source.connection.define(xml: def.xml)
            // Started in the meantime on its former images? Then they are not
            // frozen, and the clone must not be made on them.
            if try source.isActive {
                let running = DomainDefinition.diskFiles(in: try source.xml([])).map(\.path)
                guard overlays.values.allSatisfy(running.contains) else {
                    throw APIError.conflict("\(source.name) was started while it was being cloned",
                                            hint: "shut it off and clone again, or clone it running")
                }
            }
        }
    }
}
