import Core
import Foundation
import Libvirt

/// Reverts a VM to an external snapshot (libvirt 9.0 cannot): each disk
/// gets a new qcow2 overlay over the image holding its state at the
/// snapshot (that image stays read-only, for the snapshot and its
/// children), the VM is switched onto the overlays, a memory snapshot's
/// saved memory is restored on them, and the images the VM ran on until
/// now are removed (no snapshot needs them: a snapshot freezes the image
/// the VM ran on, never the one it runs on after). The VM's definition
/// (its settings now) is kept; its disks, and with memory its running state,
/// go back.
struct SnapshotReverter: Sendable {
    let executor: BlockingExecutor
    let center: ProtectionCenter

    struct Plan: Sendable {
        var domain: Domain
        var uri: String
        var snapshot: SnapshotRecord
        var request: SnapshotRevertRequest
        /// Target → the new overlay over the snapshot's image.
        var overlays: [String: String]
        /// The images the snapshotted disks run on now.
        var current: [String]
    }

    func perform(_ plan: Plan, _ ctx: OperationContext) async throws -> String {
        let dom = plan.domain, uuid = dom.uuid, snap = plan.snapshot
        for (target, path) in plan.overlays.sorted(by: { $0.key < $1.key }) {
            guard let image = snap.frozen[target] else { continue }
            try ctx.willDo(.removeFileUnlessUsed(path: path, domainUUID: uuid, uri: plan.uri))
            try await DiskImage.createOverlay(path, backing: image.path, backingFormat: image.format)
        }
        ctx.progress(0.3, "overlays made")
        // Once the VM uses the new overlays, nothing needs its former images.
        for path in plan.current { try ctx.willDo(.removeFileUnlessUsed(path: path, domainUUID: uuid, uri: plan.uri)) }
        let restoreMemory = snap.memoryFile.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        let paused = plan.request.paused == true || snap.state == "paused"
        let start = plan.request.start == true
        await center.mutate(uuid) { $0.machine.expectSilence(until: .now + .seconds(60)) }
        let overlays = plan.overlays
        let outcome = try await executor.run { () throws -> String in
            let conn = dom.connection
            var def = try DomainDefinition(xml: try dom.xml([.inactive, .secure]))
            def.setDiskImages(overlays)
            if try dom.isActive { try dom.destroy() }
            try conn.define(xml: def.xml)
            if let memory = restoreMemory {
                // The memory belongs to the definition it was saved with: that one, on the new overlays.
                var saved = try DomainDefinition(xml: try conn.savedImageXML(memory))
                saved.setDiskImages(overlays)
                saved.takeMetadata(from: def)
                try conn.restore(from: memory, xml: saved.xml, paused: paused)
                return paused ? "memory restored, VM paused" : "memory restored, VM running where the snapshot was taken"
            }
            if start { try dom.create(); return "disks reverted, VM started" }
            return "disks reverted, VM shut off"
        }
        ctx.progress(0.8, outcome)
        try await executor.run {
            // libvirt's record of where the VM stands.
            _ = try dom.createSnapshot(xml: snap.xml, [.redefine, .current])
        }
        for path in plan.current {
            // Same check as the undo: removed once the VM no longer uses it.
            try await UndoRunner(executor: executor).perform(.removeFileUnlessUsed(path: path, domainUUID: uuid, uri: plan.uri))
            ctx.done(.removeFileUnlessUsed(path: path, domainUUID: uuid, uri: plan.uri))
        }
        return outcome
    }
}
