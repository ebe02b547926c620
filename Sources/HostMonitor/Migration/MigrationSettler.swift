import Foundation
import Libvirt

/// Puts a VM whose migration was cut short (cancelled, failed, or vigild
/// killed on either side) on exactly one host: it keeps running where it
/// runs, with its definition there, and any other definition goes. libvirt
/// drives a peer-to-peer migration itself; one still running on the source
/// is aborted (the VM then stays where it was), and the step waits until
/// libvirt has let go of it on both sides before judging.
enum MigrationSettler {
    struct Unsettled: Error, CustomStringConvertible {
        let description: String
    }

    /// A post-copy migration that lost its link leaves the guest's memory
    /// split: the destination ran it on pages only the source has. QEMU 7.2
    /// with libvirt 9.0 cannot reliably resume that (tried here: the
    /// destination's prepare step hangs on a QEMU stuck on a missing page),
    /// so the guest is treated as crashed: both halves are powered off (the
    /// destination's first, and its definition, if any, removed) and the VM
    /// starts again on the source, where it is defined, from its disks.
    static func restartAfterBrokenPostcopy(uuid: String, source: String, destination: String) throws {
        if let dst = try? Connection(uri: destination) {
            defer { dst.close() }
            if let there = try? dst.domain(uuid: uuid) {
                try? there.destroy()
                if (try? there.isPersistent) == true { try? there.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata]) }
            }
        }
        let src = try Connection(uri: source)
        defer { src.close() }
        let here = try src.domain(uuid: uuid)
        if try here.isActive { try here.destroy() }
        try here.create()
    }

    static func settle(uuid: String, source: String, destination: String) throws {
        let src = try Connection(uri: source)
        defer { src.close() }
        // The destination may be gone with its host: then the source decides alone.
        let dst = try? Connection(uri: destination)
        defer { dst?.close() }
        // A domain that vanishes while we look (an incoming one whose
        // migration was aborted) counts as not there.
        func lookup(_ c: Connection?) -> Domain? { try? c?.domain(uuid: uuid) }
        func active(_ d: Domain?) -> Bool { d.flatMap { try? $0.isActive } ?? false }
        func persistent(_ d: Domain?) -> Bool { d.flatMap { try? $0.isPersistent } ?? false }

        if let here = lookup(src), (try? here.state())?.isPostcopyFailed == true {
            try restartAfterBrokenPostcopy(uuid: uuid, source: source, destination: destination)
            return
        }
        if let here = lookup(src), active(here), (try? here.jobProgress().kind).map({ $0 != .none }) ?? false {
            // A migration still in its first phase cannot be aborted yet: ask again every
            // second until libvirt lets go of it (or a minute passes).
            for i in 0..<1200 {
                // Spelled out: a bare `.none` here would be Optional.none and never match.
                if ((try? here.jobProgress().kind) ?? Domain.JobKind.none) == Domain.JobKind.none { break }
                if i % 20 == 0 { try? here.abortJob() }
                usleep(50_000)
            }
        }
        let here = lookup(src), there = lookup(dst)
        if active(here) {
            // Still running here: a definition there is a half-made one.
            if let there, !active(there) { try? there.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata]) }
            if active(there) {
                throw Unsettled(description: "the VM runs on both \(source) and \(destination) after an aborted migration")
            }
        } else if let there, active(there) {
            // It runs there: the definition here goes (the undefine may not have happened).
            if let here, persistent(here) { try here.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata]) }
            if !persistent(there) {
                // Running but not kept there: keep it defined where it runs.
                _ = try dst?.define(xml: try there.xml([.secure]))
            }
        } else if here != nil, let there {
            // Runs nowhere and defined on both (an offline move cut short): the source keeps it.
            try there.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata])
        }
    }
}
