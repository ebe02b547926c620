import Core
import Foundation
import Logging
import Synchronization

/// The cluster's event log: every HA decision and its timing, in etcd (so
/// `vigil cluster events` on any host shows them all) and in this host's own
/// event log. A write etcd cannot take (no quorum, cut off) still reaches
/// the local log and vigild's log.
final class ClusterEventLog: Sendable {
    static let kept = 500
    /// Events etcd could not take yet (a fencing host is cut off): sent with the next one that goes through.
    private let backlog = Mutex<[(key: String, data: Data)]>([])

    let etcd: EtcdClient
    let keys: ClusterKeys
    let host: String
    let local: EventLog
    let logger: Logger

    init(etcd: EtcdClient, keys: ClusterKeys, host: String, local: EventLog, logger: Logger) {
        self.etcd = etcd
        self.keys = keys
        self.host = host
        self.local = local
        self.logger = logger
    }

    func record(_ kind: String, vm: (uuid: String, name: String)? = nil, _ message: String) async {
        let now = Date()
        logger.notice("cluster: \(message)", metadata: vm.map { ["vm.name": "\($0.name)"] } ?? [:])
        local.record(vmUUID: vm?.uuid, vmName: vm?.name, kind: "cluster", message: message)
        let event = ClusterEvent(time: now.timeIntervalSince1970, host: host, kind: kind, vm: vm?.name, message: message)
        guard let data = try? JSONEncoder.cluster.encode(event) else { return }
        // Milliseconds, zero-padded, then the host: keys sort by time across hosts.
        let stamp = String(Int64(now.timeIntervalSince1970 * 1000))
        let key = keys.events + String(repeating: "0", count: max(0, 15 - stamp.count)) + stamp + "-" + host
        backlog.withLock { b in
            b.append((key, data))
            if b.count > 100 { b.removeFirst(b.count - 100) }
        }
        await flush()
    }

    /// Sends what waits in the backlog (called by the member once etcd answers again).
    func flush() async {
        let pending = backlog.withLock { $0 }
        guard !pending.isEmpty else { return }
        var done: Set<String> = []
        for (k, d) in pending {
            guard (try? await etcd.put(k, d)) != nil else { break }
            done.insert(k)
        }
        backlog.withLock { b in b.removeAll { done.contains($0.key) } }
    }

    /// Drops all but the newest `kept` events (the manager does this).
    func trim(_ view: ClusterView) async {
        guard view.eventKeys.count > Self.kept else { return }
        for key in view.eventKeys.sorted().dropLast(Self.kept) { try? await etcd.delete(key) }
    }
}
