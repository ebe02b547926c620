import Core
import Foundation

/// The whole cluster key space as one read saw it (one range request: a
/// consistent snapshot at one etcd revision). Records that do not decode
/// are skipped: a key written by a newer vigild must not stop an older one.
struct ClusterView: Sendable {
    struct Placement: Sendable, Equatable {
        var record: PlacementRecord
        /// The fencing token: a start or a move is valid only at this revision.
        var revision: Int64
    }

    var hosts: [String: HostRecord] = [:]
    /// host → vm uuid → status.
    var statuses: [String: [String: VMStatusRecord]] = [:]
    var vms: [String: VMRecord] = [:]
    var placements: [String: Placement] = [:]
    var manager: String?
    var managerRevision: Int64 = 0
    var config = HAConfigRecord()
    var progress = HAProgressRecord()
    var progressRevision: Int64 = 0
    var events: [ClusterEvent] = []
    var eventKeys: [String] = []

    init() {}

    init(_ kvs: [EtcdClient.KeyValue], keys: ClusterKeys) {
        let d = JSONDecoder.cluster
        for kv in kvs {
            guard kv.key.hasPrefix(keys.root) else { continue }
            let rest = kv.key.dropFirst(keys.root.count)
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            switch (parts.first, parts.count) {
            case ("hosts", 2):
                if let h = try? d.decode(HostRecord.self, from: kv.value) { hosts[parts[1]] = h }
            case ("status", 3):
                if let s = try? d.decode(VMStatusRecord.self, from: kv.value) { statuses[parts[1], default: [:]][parts[2]] = s }
            case ("vms", 2):
                if let v = try? d.decode(VMRecord.self, from: kv.value) { vms[parts[1]] = v }
            case ("placement", 2):
                if let p = try? d.decode(PlacementRecord.self, from: kv.value) { placements[parts[1]] = .init(record: p, revision: kv.modRevision) }
            case ("manager", 1):
                manager = String(decoding: kv.value, as: UTF8.self)
                managerRevision = kv.modRevision
            case ("ha", 2) where parts[1] == "config":
                if let c = try? d.decode(HAConfigRecord.self, from: kv.value) { config = c }
            case ("ha", 2) where parts[1] == "progress":
                if let p = try? d.decode(HAProgressRecord.self, from: kv.value) { progress = p; progressRevision = kv.modRevision }
            case ("events", 2):
                if let e = try? d.decode(ClusterEvent.self, from: kv.value) { events.append(e); eventKeys.append(kv.key) }
            default:
                break
            }
        }
    }

    /// The live host (if any) that reports `uuid` running or starting.
    func runningHost(of uuid: String) -> String? {
        statuses.first { host, vms in hosts[host] != nil && [.running, .starting].contains(vms[uuid]?.state) }?.key
    }
}
