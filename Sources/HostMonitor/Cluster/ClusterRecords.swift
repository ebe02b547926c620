import Core
import Foundation

/// The cluster's key space in etcd, under `/vigil/NAME/`:
///
///     hosts/HOST            HostRecord, bound to HOST's lease (gone when it expires)
///     status/HOST/UUID      VMStatusRecord, bound to HOST's lease: what HOST runs
///     vms/UUID              VMRecord: definition, HA settings and wanted state (survives its host)
///     placement/UUID        the host that may run UUID; its mod revision is the fencing token
///     manager               the elected manager's host, bound to its lease
///     ha/config             HAConfigRecord (`vigil cluster ha on|off …`)
///     ha/progress           the manager's retries, so a new manager continues them
///     events/SEQ            ClusterEvent, the cluster's event log (last 1000 kept)
struct ClusterKeys: Sendable {
    let root: String

    init(cluster: String) { root = "/vigil/\(cluster)/" }

    var hosts: String { root + "hosts/" }
    func host(_ id: String) -> String { hosts + id }
    var statuses: String { root + "status/" }
    func statuses(of host: String) -> String { statuses + host + "/" }
    func status(_ host: String, _ uuid: String) -> String { statuses(of: host) + uuid }
    var vms: String { root + "vms/" }
    func vm(_ uuid: String) -> String { vms + uuid }
    var placements: String { root + "placement/" }
    func placement(_ uuid: String) -> String { placements + uuid }
    var manager: String { root + "manager" }
    var config: String { root + "ha/config" }
    var progress: String { root + "ha/progress" }
    var events: String { root + "events/" }
}

/// What a host tells the cluster about itself (refreshed every few seconds).
struct HostRecord: Codable, Sendable, Equatable {
    var id: String
    var uri: String
    /// libvirt's host UUID (libvirtd's `host_uuid`): how a migration's
    /// destination, named by whatever URI reaches it, is known as this host
    /// (nil from a vigild that did not say).
    var hostUUID: String?
    /// Memory the host offers VMs, and what its running VMs leave of it.
    var memoryMiB: Int
    var freeMemoryMiB: Int
    var cpus: Int
    /// Threads its running VMs' vCPUs leave unclaimed (negative when overcommitted;
    /// nil from a vigild that did not say).
    var freeCPUs: Int?
    var maintenance: Bool
    var version: String
    /// Shared storage directories it writes a storage heartbeat on.
    var sharedStorage: [String]
}

/// A VM the cluster protects, written by the host it runs on.
struct VMRecord: Codable, Sendable, Equatable {
    var uuid: String
    var name: String
    /// Its persistent definition (policy and settings are in its metadata, so they travel with it).
    var xml: String
    var ha: Bool
    var priority: HAPriority
    var memoryMiB: Int
    var vcpus: Int?
    /// "running" or "stopped": what its owner last saw an administrator want.
    var wanted: String
    /// Every disk is on storage all hosts share (else it cannot run elsewhere).
    var onSharedStorage: Bool
}

/// What one host reports of one VM.
struct VMStatusRecord: Codable, Sendable, Equatable {
    enum State: String, Codable, Sendable { case running, starting, failed, fenced }
    var state: State
    var detail: String?
}

struct PlacementRecord: Codable, Sendable, Equatable {
    var host: String
    /// Who placed it: the host itself (it ran there), or the manager's failover.
    var by: String
}

/// `vigil cluster ha on|off …`: admission control and HA's switch.
typealias HAConfigRecord = ClusterHAConfig

struct HAProgressRecord: Codable, Sendable, Equatable {
    struct Attempt: Codable, Sendable, Equatable {
        var count: Int
        /// Wall-clock time of the last start (a new manager has another monotonic clock).
        var at: Date
        var host: String
        var tried: [String]
    }
    var attempts: [String: Attempt] = [:]
    var givenUp: [String] = []
}

extension JSONEncoder {
    static let cluster: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .secondsSince1970
        return e
    }()
}

extension JSONDecoder {
    static let cluster: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .secondsSince1970
        return d
    }()
}
