import Core
import Foundation
import Libvirt

/// Clones in the API: every problem checked up front, then the copy runs
/// as a journalled operation (`Cloner`).
struct CloneService: Sendable {
    let host: HostContext
    let copier: DiskCopier
    /// Directories every peer sees at the same path (a clone for another host needs them).
    let sharedStorage: SharedStorage

    /// Checks a clone request (every problem at once), then starts it as a
    /// journalled operation.
    func clone(vm: String, _ r: CloneRequest) async throws -> OperationInfo {
        let conn = try host.connection()
        var problems = VMBuilder.nameProblems(r.name)
        if let dir = r.directory, !FileFacts.isDirectory(dir) {
            problems.append("directory '\(dir)' does not exist (give an absolute path)")
        }
        if let host = r.host {
            if let dir = r.directory, !sharedStorage.contains(dir) {
                problems.append("a clone on another host needs its disks on shared storage; '\(dir)' is not one of --shared-storage \(sharedStorage.directories)")
            } else if r.directory == nil && sharedStorage.isEmpty {
                problems.append("a clone on another host needs shared storage; start vigild with --shared-storage DIR")
            }
            if host == self.host.uri { problems.append("--host is this host; leave it out") }
        }
        guard problems.isEmpty else {
            throw APIError.badRequest(problems.joined(separator: "; "), hint: "vigil vm clone SOURCE NEW [--linked] [--dir DIR] [--host URI]")
        }
        let sourceURI = host.uri
        let targetURI = r.host ?? sourceURI
        let plan = try await host.executor.run { () throws -> Cloner.Plan in
            let source = try conn.domain(nameOrUUID: vm)
            let target = targetURI == sourceURI ? conn : try Connection(uri: targetURI)
            for c in target === conn ? [conn] : [conn, target] {
                if (try? c.domain(named: r.name)) != nil {
                    throw APIError.conflict("a VM named '\(r.name)' already exists on \(c.uri)", hint: "choose another name")
                }
            }
            let state = try source.state().state
            let running = state == .running || state == .paused
            let xml = try source.xml([.inactive, .secure])
            let def = try DomainDefinition(xml: xml)
            if !def.nonFileDisks.isEmpty {
                throw APIError.conflict("\(source.name) has disks that are not image files (\(def.nonFileDisks.joined(separator: ", ")))",
                                        hint: "Vigil clones file-backed disks only; copy those volumes with your storage's tools")
            }
            if running, r.mode == .full, try source.jobProgress().kind != .none {
                throw APIError.conflict("\(source.name) is busy with another job (migration, backup)", hint: "wait for it to finish and try again")
            }
            if r.mode == .linked, try source.snapshotCount > 0 {
                // Its images would become bases under new overlays, where its snapshots can no longer be reverted to.
                throw APIError.conflict("\(source.name) has snapshots; a linked clone would freeze the images they live in",
                                        hint: "make a full clone, or delete its snapshots first (virsh snapshot-list \(source.name))")
            }
            if r.mode == .linked, try source.hasManagedSaveImage {
                throw APIError.conflict("\(source.name) is hibernated; a linked clone would change the disks its saved memory belongs to",
                                        hint: "wake it (vigil vm wake) or make a full clone")
            }
            var disks: [DiskCopier.Copy] = []
            for d in def.disks where d.isOwned {
                guard let from = d.path else { continue }
                let dir = r.directory ?? URL(fileURLWithPath: from).deletingLastPathComponent().path
                let to = URL(fileURLWithPath: dir).appendingPathComponent("\(r.name)-\(d.target).qcow2").path
                // libvirt knows the virtual size (an RPC, cheaper than running qemu-img info).
                let size = (try? source.blockInfo(d.target).capacity).map { Int64(clamping: $0) } ?? 0
                disks.append(DiskCopier.Copy(target: d.target, from: from, format: d.format ?? "raw", to: to, virtualSize: size))
            }
            return Cloner.Plan(request: r, source: source, sourceURI: sourceURI, target: target, targetURI: targetURI,
                               running: running, definition: xml, disks: disks, newUUID: UUID().uuidString.lowercased())
        }
        var checked = plan
        var diskProblems: [String] = []
        for (i, d) in plan.disks.enumerated() {
            if FileManager.default.fileExists(atPath: d.to) { diskProblems.append("\(d.to) already exists") }
            if r.host != nil && r.mode == .linked && !sharedStorage.contains(d.from) {
                diskProblems.append("\(d.from) is not on shared storage, so another host cannot use it as a linked clone's base")
            }
            if d.virtualSize == 0 {
                do {
                    checked.disks[i].virtualSize = try await DiskImage.info(d.from).virtualSize
                } catch {
                    diskProblems.append("cannot read \(d.from): \(error)")
                }
            }
        }
        guard diskProblems.isEmpty else {
            throw APIError.conflict(diskProblems.joined(separator: "; "),
                                    hint: "Vigil never overwrites a disk: choose another name or --dir, or make a full clone")
        }
        let ready = checked
        let cloner = Cloner(copier: copier, events: host.events)
        return try await host.operations.start(kind: "clone", target: "\(plan.source.name) -> \(r.name)") { ctx in
            try await cloner.perform(ready, ctx)
        }
    }
}
