import Foundation
import Libvirt

/// Puts a VM whose migration was cut short (cancelled, failed, or vigild
/// killed on either side) on exactly one host: it keeps running where it
/// runs, with its definition there, and any other definition goes. libvirt
/// drives a peer-to-peer migration itself, so by the time this runs it has
/// either finished or given up; a job still running on the source is aborted.
enum MigrationSettler {
    static func settle(uuid: String, source: String, destination: String) throws {
        let src = try Connection(uri: source)
        defer { src.close() }
        // The destination may be gone with its host: then the source decides alone.
        let dst = try? Connection(uri: destination)
        defer { dst?.close() }
        let here = try? src.domain(uuid: uuid)
        let there = try? dst?.domain(uuid: uuid)
        if let here, try here.isActive {
            if try here.jobProgress().kind != .none {
                try? here.abortJob()
                for _ in 0..<200 where (try? here.jobProgress().kind) != Domain.JobKind.none { usleep(50_000) }
            }
            // Still running here: a definition there is a half-made one.
            if let there, try !there.isActive { try there.undefine([.managedSave, .snapshotsMetadata]) }
        } else if let there, try there.isActive {
            // It runs there: the definition here goes (the undefine may not have happened).
            if let here, try here.isPersistent { try here.undefine([.managedSave, .snapshotsMetadata]) }
            if try !there.isPersistent {
                // Running but not kept there: keep it defined where it runs.
                _ = try dst?.define(xml: try there.xml([.secure]))
            }
        } else if here != nil, let there {
            // Runs nowhere and defined on both (an offline move cut short): the source keeps it.
            try there.undefine([.managedSave, .snapshotsMetadata])
        }
    }
}
