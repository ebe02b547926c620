import Core
import Libvirt
import Synchronization

/// What vigild last read of each domain's definition (channel, policy,
/// settings, autostart), so the periodic reconcile and `vm list` read only
/// each domain's state, not its XML and metadata. An entry is read afresh
/// after a libvirt event about its domain, after vigild itself changes it
/// (`invalidate`), and on every `refetch` pass (the safety net for changes
/// made behind vigild's back without an event, e.g. `virsh metadata`).
final class DomainCache: Sendable {
    private struct Entry {
        var snapshot: DomainSnapshot?
        /// Bumped by `invalidate`: a read that began before must not be stored.
        var generation = 0
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// The domain with its current state; its definition from the cache
    /// unless `refetch` or not cached. Blocking (libvirt calls).
    func current(_ dom: Domain, defaults: ProtectionPolicy, refetch: Bool = false) throws -> DomainSnapshot {
        let uuid = dom.uuid
        let (cached, generation) = entries.withLock { ($0[uuid]?.snapshot, $0[uuid]?.generation ?? 0) }
        var snapshot: DomainSnapshot
        if !refetch, let cached {
            snapshot = cached
            snapshot.state = try dom.state()
        } else {
            snapshot = try DomainSnapshot(dom: dom, defaults: defaults)
        }
        entries.withLock { all in
            if (all[uuid]?.generation ?? 0) == generation { all[uuid, default: Entry()].snapshot = snapshot }
        }
        return snapshot
    }

    /// Forgets what was read of a domain (vigild changed its definition or metadata).
    func invalidate(_ uuid: String) {
        entries.withLock { all in
            all[uuid, default: Entry()].snapshot = nil
            all[uuid]?.generation += 1
        }
    }

    /// Drops the domains that no longer exist.
    func retain(_ uuids: Set<String>) {
        entries.withLock { all in all = all.filter { uuids.contains($0.key) } }
    }

    func remove(_ uuid: String) {
        entries.withLock { _ = $0.removeValue(forKey: uuid) }
    }
}
