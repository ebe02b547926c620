import Core
import Foundation
import Libvirt
import Logging

/// Carries out a recovery decided by the state machine: restart here, or
/// start the VM on the cluster host with the most free memory. All calls
/// block on libvirt and run on the blocking executor.
struct RecoveryPerformer: Sendable {
    let peers: [String]
    let sharedStorage: [String]
    let logger: Logger

    enum Outcome: Sendable {
        case restarted
        /// Cold-started on the peer (the failed instance here powered off).
        case movedTo(String)
        /// Live-migrated to the peer: the same boot, memory and all.
        case migratedLiveTo(String)
        /// Migrate was asked for but could not be done: restarted here instead.
        case restartedInstead(String)
    }

    func perform(_ action: CrashAction, cause: FailureCause, on domain: Domain) throws -> Outcome {
        switch action {
        case .ignore:
            return .restarted
        case .restart:
            try restart(domain)
            return .restarted
        case .migrate:
            do {
                if case .heartbeatLoss = cause, try domain.state().state == .running, try !movedLiveBefore(domain) {
                    do {
                        return .migratedLiveTo(try migrateLiveToPeer(domain))
                    } catch {
                        logger.warning("live migration for recovery failed, starting it cold on a peer: \(error)",
                                       metadata: ["vm.name": "\(domain.name)"])
                    }
                }
                return .movedTo(try moveToPeer(domain))
            } catch let reason as MoveRefusal {
                try restart(domain)
                return .restartedInstead(reason.description)
            }
        }
    }

    /// Resets the virtual machine in place: QEMU stays, the guest reboots.
    /// A reset is the fastest way back (no new QEMU process); if it fails the
    /// domain is powered off and started again.
    func restart(_ domain: Domain) throws {
        let state = try domain.state().state
        if state == .shutoff {
            try domain.create()
            return
        }
        do {
            try domain.reset()
            try resumeIfPaused(domain)
        } catch {
            logger.warning("reset failed, powering off and starting again: \(error)", metadata: ["vm.name": "\(domain.name)"])
            try? domain.destroy()
            try domain.create()
        }
        if try domain.state().state != .running {
            throw MoveRefusal("VM is \(try domain.state()) after the restart")
        }
    }

    /// A reset leaves a panicked (preserved) guest's vCPUs stopped. libvirt
    /// may also resume it on its own between our state query and resume
    /// call; "already running" is then success, not a reason to power off.
    private func resumeIfPaused(_ domain: Domain) throws {
        guard try domain.state().state == .paused || domain.state().state == .crashed else { return }
        do {
            try domain.resume()
        } catch {
            if try domain.state().state == .running { return }
            throw error
        }
    }

    struct MoveRefusal: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// Marks a guest moved live for a recovery. Live metadata only: it goes
    /// with the running guest and is gone once it is powered off, so a guest
    /// still silent after a live move is started cold next time, not sent
    /// back and forth between hosts.
    static let recoveryMarkNamespace = "https://vigil.dev/xmlns/recovery-move/1"

    /// Whether a live move for a recovery brought the guest here within the
    /// last 10 minutes (a reset keeps QEMU and so the mark: an old one
    /// does not stop a later silence from being moved live again).
    private func movedLiveBefore(_ domain: Domain) throws -> Bool {
        guard let mark = try domain.metadata(namespaceURI: Self.recoveryMarkNamespace, affect: .live) else { return false }
        // libvirt hands the element back with its namespace prefix: find at='…' wherever it is.
        guard let r = mark.range(of: #"\bat=['"]([0-9]+)['"]"#, options: .regularExpression),
              let at = TimeInterval(mark[r].filter(\.isNumber)) else { return true }
        return Date().timeIntervalSince1970 - at < 600
    }

    /// A guest that stopped heartbeating while its domain still runs (a
    /// wedged agent, a guest starved on this host) may be well: a live move
    /// keeps its memory and boot. Peer to peer with auto-converge, so a busy
    /// guest still completes; persistent there, undefined here, as libvirt
    /// commits it.
    func migrateLiveToPeer(_ domain: Domain) throws -> String {
        let (uri, conn) = try bestPeer(for: domain)
        conn.close()
        let mark = "<move at='\(Int(Date().timeIntervalSince1970))'/>"
        try domain.setMetadata(mark, key: "vigilrec", namespaceURI: Self.recoveryMarkNamespace, affect: .live)
        let flags: Domain.MigrationFlags = [.live, .persistDestination, .undefineSource, .unsafe, .abortOnError, .autoConverge]
        try domain.migrate(toURI: uri, flags: flags, parameters: .init())
        return uri
    }

    /// The peer with the most memory available that can hold the VM; only
    /// when every disk is on shared storage.
    private func bestPeer(for domain: Domain) throws -> (uri: String, conn: Connection) {
        guard !peers.isEmpty else { throw MoveRefusal("no cluster peers configured (vigild --peer)") }
        let xml = try domain.xml([.inactive, .secure])
        let disks = DomainXML.diskSources(in: xml)
        let local = disks.filter { path in !sharedStorage.contains { path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") } }
        guard local.isEmpty else {
            throw MoveRefusal("disk \(local[0]) is not on shared storage (vigild --shared-storage)")
        }
        let needKiB = try domain.info().maxMemoryKiB
        var best: (uri: String, conn: Connection, free: UInt64)?
        var reasons: [String] = []
        for uri in peers {
            do {
                let conn = try Connection(uri: uri)
                let free = try conn.availableMemory
                if free / 1024 < needKiB {
                    reasons.append("\(uri): \(free / 1_048_576) MiB available")
                    conn.close()
                    continue
                }
                if let current = best, current.free >= free { conn.close(); continue }
                best?.conn.close()
                best = (uri, conn, free)
            } catch {
                reasons.append("\(uri): \(error)")
            }
        }
        guard let target = best else {
            throw MoveRefusal("no peer can take the VM (\(reasons.joined(separator: "; ")))")
        }
        return (target.uri, target.conn)
    }

    /// Cold-starts the VM on the peer with the most memory available. Works
    /// only when every disk is on shared storage; the failed instance here
    /// is powered off and its definition moves with it.
    func moveToPeer(_ domain: Domain) throws -> String {
        let target = try bestPeer(for: domain)
        defer { target.conn.close() }
        let xml = try domain.xml([.inactive, .secure])
        try? domain.destroy()
        do {
            let remote = try target.conn.define(xml: xml)
            do {
                try remote.create()
            } catch {
                try? remote.undefine()
                throw error
            }
        } catch {
            throw MoveRefusal("starting on \(target.uri) failed: \(error)")
        }
        // The VM now lives on the peer: drop the definition here.
        try? domain.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata])
        return target.uri
    }
}
